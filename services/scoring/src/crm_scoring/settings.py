"""The scoring service's settings: the shared ones, the value model it scores with, and how often
the win-probability model's snapshot is rebuilt."""

from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.settings import ServiceSettings
from pydantic import Field, field_validator

from crm_scoring.domain.value_model import load


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    http_port: int = 8003
    model_version: str = Field(default="value-v3", description="A file in crm_scoring/models/.")
    topics: list[str] = Field(
        default=[CUSTOMER_EVENTS, FOLLOWUP_EVENTS],
        description="The topics scored (CRM_TOPICS, as JSON): a test or a benchmark points the "
        "service at topics of its own.",
    )
    # Each snapshot re-scores every customer whose result it moves: at a steady 100 deals/s,
    # a snapshot every 2 s took about a third of the service's CPU, every 5 s about an eighth.
    snapshot_every_deals: int = Field(
        default=1000, ge=1, description="A new model snapshot once this many deals wait..."
    )
    snapshot_every_s: float = Field(
        default=5.0, gt=0, description="...or once any deal has waited this long (seconds)."
    )
    snapshot_max_deals: int = Field(
        default=5000, ge=1, description="Deals counted in one snapshot's transaction at most."
    )
    rescore_page_size: int = Field(
        default=1000, ge=1, description="Customers a new snapshot re-scores per transaction."
    )
    snapshot_lease_s: float = Field(
        default=15.0,
        gt=0,
        description="The lease of the single writer of snapshots: how long another instance "
        "waits to take over from one that died.",
    )
    snapshot_poll_interval_s: float = Field(default=0.25, gt=0)

    @field_validator("model_version")
    @classmethod
    def _exists(cls, version: str) -> str:
        load(version)  # a clear error at start-up, not at the first event
        return version
