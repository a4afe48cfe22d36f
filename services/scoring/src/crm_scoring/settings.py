"""The scoring service's settings: the shared ones and the value model it scores with."""

from crm_runtime.settings import ServiceSettings
from pydantic import Field, field_validator

from crm_scoring.domain.value_model import load


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    http_port: int = 8003
    model_version: str = Field(default="value-v1", description="A file in crm_scoring/models/.")

    @field_validator("model_version")
    @classmethod
    def _exists(cls, version: str) -> str:
        load(version)  # a clear error at start-up, not at the first event
        return version
