"""Wires the follow-up service from settings."""

from crm_followup.entrypoints import router
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings


class FollowupSettings(ServiceSettings):
    service_name: str = "followup"
    http_port: int = 8002


def bootstrap(settings: ServiceSettings | None = None) -> Service:
    return Service(ServiceSpec(title="CRM follow-up service", routers=[router]), settings or FollowupSettings())
