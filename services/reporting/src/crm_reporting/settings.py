"""The reporting service's settings: the shared ones (the pipeline included) and its port."""

from crm_runtime.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    http_port: int = 8004
