"""Requirement proposals (module 5): revised after each talk, each revision kept; then withdrawn,
accepted or rejected, which is final."""

from typing import Any, Literal

from crm_contracts import LinePrice, ProposalContent
from crm_contracts.common import Id, LongText, Money, Text
from crm_contracts.envelope import CustomerId
from crm_contracts.opportunity_events import MAX_LINES
from crm_runtime.handlers import Command, Patch
from pydantic import Field

Status = Literal["open", "withdrawn", "accepted", "rejected"]
Decision = Literal["withdraw", "accept", "reject"]
DECISIONS: dict[str, Status] = {"withdraw": "withdrawn", "accept": "accepted", "reject": "rejected"}


class WriteProposal(ProposalContent, Command):
    customer_id: CustomerId
    opportunity_id: Id | None = None


class ProposalRevision(Patch):
    """What a revision changes; a field left out stays as it was."""

    needs: list[Text] | None = Field(default=None, min_length=1, max_length=50)
    solution: LongText | None = None
    price: Money | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    line_prices: list[LinePrice] | None = Field(default=None, max_length=MAX_LINES)
    note: Text = Field(description="What changed and why: kept with the revision.")


class ReviseProposal(Command):
    proposal_id: Id
    revision: ProposalRevision


class DecideProposal(Command):
    proposal_id: Id
    decision: Decision
    reason: Text | None = None


def revision_problem(status: str) -> str | None:
    return (
        None
        if status == "open"
        else f"the proposal is {status}: a final state, write a new proposal"
    )


def decision_problem(status: str, decision: str) -> str | None:
    if decision not in DECISIONS:
        return f"no decision {decision!r}: {', '.join(DECISIONS)}"
    return None if status == "open" else f"the proposal is already {status}"


def revised(current: ProposalContent, changes: dict[str, Any]) -> ProposalContent | None:
    """The content after `changes`, or None when nothing would change (no empty revisions)."""
    wanted = {k: v for k, v in changes.items() if v is not None}
    after = ProposalContent.model_validate({**current.model_dump(), **wanted})
    return None if after == current else after
