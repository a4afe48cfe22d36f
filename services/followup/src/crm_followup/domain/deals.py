"""Closing a deal: won with its contract facts, or lost with a reason from the catalogue."""

from typing import Literal

from crm_contracts import DealFacts
from crm_contracts.common import Id
from crm_contracts.envelope import CustomerId
from crm_runtime.handlers import Command
from pydantic import Field, field_validator

LOST_REASONS = (
    "price",
    "service_quality",
    "coverage",
    "capacity",
    "transit_time",
    "relationship",
    "timing",
    "incumbent_contract",
    "requirements_mismatch",
    "went_in_house",
    "no_decision",
    "other",
)


class CloseDeal(DealFacts, Command):
    """The facts of the deal; `lost_reason` must come from the catalogue (LOST_REASONS). Left
    out, `salesperson_id` credits the salesperson who closes it; `opportunity_id`, the customer's
    only open opportunity; `lines` (when won), that opportunity's lines at the rates of its
    accepted proposal."""

    customer_id: CustomerId
    opportunity_id: Id | None = None
    outcome: Literal["won", "lost"] = Field(description="won or lost: both are final.")

    @field_validator("lost_reason")
    @classmethod
    def _from_the_catalogue(cls, reason: str | None) -> str | None:
        if reason is not None and reason not in LOST_REASONS:
            raise ValueError(f"lost_reason must be one of: {', '.join(LOST_REASONS)}")
        return reason
