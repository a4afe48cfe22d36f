"""Events of the scoring service."""

from typing import Literal

from pydantic import Field

from crm_contracts.common import Text, Tier
from crm_contracts.envelope import Event, Payload


class CustomerScoredPayload(Payload):
    score: int = Field(ge=0, le=100)
    tier: Tier
    win_probability: float = Field(ge=0, le=1)
    reasons: list[Text] = Field(max_length=50)
    rule_version: Text


class CustomerScored(Event):
    event_type: Literal["CustomerScored"] = "CustomerScored"
    schema_version: Literal[1] = 1
    payload: CustomerScoredPayload
