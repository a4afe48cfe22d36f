"""Wires the scoring service from settings."""

from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from crm_scoring.handlers import HANDLERS


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    http_port: int = 8003


def bootstrap(settings: ServiceSettings | None = None) -> Service:
    spec = ServiceSpec(
        title="CRM scoring service", subscribes_to=[CUSTOMER_EVENTS, FOLLOWUP_EVENTS], handlers=HANDLERS
    )
    return Service(spec, settings or ScoringSettings())
