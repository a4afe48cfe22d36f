"""Events about salespeople, on their own topic. The envelope's customer_id field carries the
salesperson's id there: it is that topic's key, and one envelope serves every event."""

from typing import Literal

from pydantic import Field

from crm_contracts.common import Id, Text
from crm_contracts.envelope import Event, Payload


class SalespersonPayload(Payload):
    salesperson_id: Id
    name: Text
    regions: list[Text] = Field(default_factory=list, description="Empty: every region.")
    industries: list[Text] = Field(default_factory=list, description="Empty: every industry.")
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
