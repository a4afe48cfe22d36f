"""Wires the scoring service from settings."""

from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from pydantic import Field, field_validator

from crm_scoring import adapters
from crm_scoring.domain.value_model import load
from crm_scoring.entrypoints import router
from crm_scoring.handlers import handlers


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    http_port: int = 8003
    model_version: str = Field(default="value-v1", description="A file in crm_scoring/models/.")

    @field_validator("model_version")
    @classmethod
    def _exists(cls, version: str) -> str:
        load(version)  # a clear error at start-up, not at the first event
        return version


def bootstrap(settings: ScoringSettings | None = None) -> Service:
    settings = settings or ScoringSettings()
    spec = ServiceSpec(
        title="CRM scoring service",
        routers=[router],
        subscribes_to=[CUSTOMER_EVENTS, FOLLOWUP_EVENTS],
        handlers=handlers(settings.model_version),
        create_indexes=adapters.create_indexes,
    )
    return Service(spec, settings)
