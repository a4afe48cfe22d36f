"""The follow-up service's settings: the shared ones (the pipeline among them), its own name
and port."""

from crm_runtime.settings import ServiceSettings


class FollowupSettings(ServiceSettings):
    service_name: str = "followup"
    http_port: int = 8002
