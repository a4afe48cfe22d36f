"""Events about salespeople, on their own topic. The envelope's customer_id field carries the
salesperson's id there: it is that topic's key, and one envelope serves every event."""

from typing import Annotated, Literal

from pydantic import Field

from crm_contracts.common import Id, Label, Text
from crm_contracts.envelope import Event, Payload

# A salesperson covers a province or a few dozen cities (China has 34 provinces and about 330
# prefectures); who covers more covers everything, which is the empty list. 200 labels of 100
# characters keep the event under 250 kB even when every character is a 6-byte JSON escape: far
# from the 1 MiB a Kafka record may have.
MAX_COVERAGE = 200
Coverage = Annotated[list[Label], Field(max_length=MAX_COVERAGE)]


class SalespersonPayload(Payload):
    salesperson_id: Id
    name: Text
    regions: Coverage = Field(default_factory=list, description="Empty: every region.")
    industries: Coverage = Field(default_factory=list, description="Empty: every industry.")
    capacity: int = Field(ge=0, description="Most active customers this person may own.")
    seniority: int = Field(ge=1, le=3, description="1 junior, 2 intermediate, 3 senior.")
    active: bool = True


class SalespersonRegistered(Event):
    event_type: Literal["SalespersonRegistered"] = "SalespersonRegistered"
    schema_version: Literal[1] = 1
    payload: SalespersonPayload


class SalespersonUpdated(Event):
    event_type: Literal["SalespersonUpdated"] = "SalespersonUpdated"
    schema_version: Literal[1] = 1
    payload: SalespersonPayload
