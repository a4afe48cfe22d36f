"""Wires the reporting service from settings."""

from crm_contracts import ALL_TOPICS
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings

from crm_reporting import adapters
from crm_reporting.entrypoints import router
from crm_reporting.handlers import HANDLERS
from crm_reporting.reports import router as reports


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    http_port: int = 8004


def bootstrap(settings: ServiceSettings | None = None) -> Service:
    spec = ServiceSpec(
        title="CRM reporting service",
        routers=[router, reports],
        subscribes_to=list(ALL_TOPICS),
        handlers=HANDLERS,
        create_indexes=adapters.create_indexes,
    )
    return Service(spec, settings or ReportingSettings())
