"""The envelope every event travels in (ARCHITECTURE.md, "Rules of the event flow")."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CustomerId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Payload(BaseModel):
    # Tolerant reader: a newer minor version may add optional fields that this one ignores.
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique per event; consumers dedup on it."
    )
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str = Field(
        min_length=1, max_length=100, description="The service or system that emitted it."
    )
    customer_id: CustomerId = Field(
        description="The Kafka key: one customer's events stay in order."
    )
    correlation_id: UUID = Field(
        default_factory=uuid4, description="Shared by all events of one flow."
    )
    causation_id: UUID | None = Field(
        default=None, description="The event_id this event was caused by."
    )
    payload: Payload

    @property
    def tag(self) -> str:
        return version_tag(self.event_type, self.schema_version)

    def key(self) -> bytes:
        return self.customer_id.encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def version_tag(event_type: str, schema_version: int) -> str:
    return f"{event_type}.v{schema_version}"
