"""Events about salespeople, on their own topic. The envelope's customer_id field carries the
salesperson's id there: it is that topic's key, and one envelope serves every event."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from crm_contracts.common import FreightTons, Id, Label, Money, Text
from crm_contracts.envelope import Event, Payload
from crm_contracts.opportunity_events import Currency

# A salesperson covers a province or a few dozen cities (China has 34 provinces and about 330
# prefectures); who covers more covers everything, which is the empty list. 200 labels of 100
# characters keep the event under 250 kB even when every character is a 6-byte JSON escape: far
# from the 1 MiB a Kafka record may have.
MAX_COVERAGE = 200
Coverage = Annotated[list[Label], Field(max_length=MAX_COVERAGE)]
# A team's code: part of the key its quotas travel under (`team:<code>`), so no spaces.
Team = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
# A calendar period: a year (2027), a quarter (2027-Q1) or a month (2027-03), in UTC.
Period = Annotated[str, Field(pattern=r"^[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")]


class SalespersonPayload(Payload):
    salesperson_id: Id
    name: Text
    regions: Coverage = Field(default_factory=list, description="Empty: every region.")
    industries: Coverage = Field(default_factory=list, description="Empty: every industry.")
    capacity: int = Field(ge=0, description="Most active customers this person may own.")
    seniority: int = Field(ge=1, le=3, description="1 junior, 2 intermediate, 3 senior.")
    active: bool = True
    team: Team | None = Field(default=None, description="The team they sell in, if any.")


class SalespersonRegistered(Event):
    event_type: Literal["SalespersonRegistered"] = "SalespersonRegistered"
    schema_version: Literal[1] = 1
    payload: SalespersonPayload


class SalespersonUpdated(Event):
    event_type: Literal["SalespersonUpdated"] = "SalespersonUpdated"
    schema_version: Literal[1] = 1
    payload: SalespersonPayload


class QuotaPayload(Payload):
    """A target for one period, as a manager set it (each change a new version, the whole
    target): revenue won in a currency, and freight won (monthly tons contracted by the deals
    won in the period). Both null: no target any more."""

    target: Literal["salesperson", "team"]
    target_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The salesperson's id, or the team's code."
    )
    period: Period
    revenue: Money | None = None
    currency: Currency | None = None
    freight_tons: FreightTons | None = None
    version: int = Field(ge=1, description="Counts the changes to this target and period.")
    set_by: Id | None = Field(default=None, description="The user who set it.")
    reason: Text | None = None

    @model_validator(mode="after")
    def _revenue_has_its_currency(self) -> "QuotaPayload":
        if (self.revenue is None) != (self.currency is None):
            raise ValueError("revenue and currency go together")
        return self


def quota_key(target: str, target_id: str) -> str:
    """The key a target's quotas travel under on the salesperson topic: a salesperson's own id
    (their events' key), or `team:<code>`."""
    return target_id if target == "salesperson" else f"team:{target_id}"


class QuotaSet(Event):
    """Keyed by quota_key: one target's changes stay in order."""

    event_type: Literal["QuotaSet"] = "QuotaSet"
    schema_version: Literal[1] = 1
    payload: QuotaPayload
