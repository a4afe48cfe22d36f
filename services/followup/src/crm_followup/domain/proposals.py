"""Requirement proposals (module 5): revised after each talk, each revision kept; then withdrawn,
accepted or rejected, which is final."""

from typing import Literal

from crm_contracts import ProposalContent

Status = Literal["open", "withdrawn", "accepted", "rejected"]
DECISIONS: dict[str, Status] = {"withdraw": "withdrawn", "accept": "accepted", "reject": "rejected"}


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


def revised(current: ProposalContent, changes: dict) -> ProposalContent | None:
    """The content after `changes`, or None when nothing would change (no empty revisions)."""
    after = current.model_copy(update={k: v for k, v in changes.items() if v is not None})
    after = ProposalContent.model_validate(after.model_dump())
    return None if after == current else after
