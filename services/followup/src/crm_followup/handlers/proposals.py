"""Requirement proposals: written, revised (every revision kept), then withdrawn, accepted or
rejected."""

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_contracts import (
    ProposalAccepted,
    ProposalContent,
    ProposalCreated,
    ProposalDecisionPayload,
    ProposalPayload,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
)
from crm_runtime.errors import Conflict, NotFound, Unprocessable
from crm_runtime.handlers import Context
from crm_runtime.store import UnitOfWork

from crm_followup import adapters
from crm_followup.domain.opportunities import pricing_problem, terms_of
from crm_followup.domain.proposals import (
    DECISIONS,
    DecideProposal,
    ReviseProposal,
    WriteProposal,
    decision_problem,
    revised,
    revision_problem,
)
from crm_followup.handlers.common import PRODUCER, workable_customer
from crm_followup.handlers.pipeline import stored_opportunity
from crm_followup.settings import FollowupSettings

EVENTS = {"withdraw": ProposalWithdrawn, "accept": ProposalAccepted, "reject": ProposalRejected}
CONTENT = set(ProposalContent.model_fields)


def _revision(content: ProposalContent, number: int, note: str | None) -> dict[str, Any]:
    return {
        "revision": number,
        **content.model_dump(mode="json"),
        "note": note,
        "at": datetime.now(UTC),
    }


async def write_proposal(
    command: WriteProposal, context: Context[FollowupSettings]
) -> dict[str, Any]:
    content = ProposalContent(**command.model_dump(include=CONTENT))
    proposal = {
        "_id": str(uuid.uuid4()),
        "customer_id": command.customer_id,
        "opportunity_id": command.opportunity_id,
        "status": "open",
        "revision": 1,
        "revisions": [_revision(content, 1, None)],
        "created_at": datetime.now(UTC),
    }

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, command.customer_id, context.caller)
        await _priceable(uow, command.customer_id, command.opportunity_id, content)
        await adapters.insert(uow, adapters.PROPOSALS, proposal)
        uow.emit(
            ProposalCreated(
                producer=PRODUCER,
                customer_id=command.customer_id,
                correlation_id=context.correlation_id,
                payload=ProposalPayload(
                    **content.model_dump(),
                    proposal_id=proposal["_id"],
                    opportunity_id=command.opportunity_id,
                    revision=1,
                ),
            )
        )
        return proposal  # the answer, so that a repeat with its Idempotency-Key gets it

    return await context.store.run(work)


async def _priceable(
    uow: UnitOfWork, customer_id: str, opportunity_id: str | None, content: ProposalContent
) -> None:
    """The proposal's opportunity is the customer's (404), and prices only its lines (422)."""
    if opportunity_id is None:
        if content.line_prices:
            raise Unprocessable("line_prices price the lines of the proposal's opportunity_id")
        return
    opportunity = await stored_opportunity(uow, opportunity_id, customer_id)
    problem = pricing_problem(content.line_prices, terms_of(opportunity).lines)
    if problem is not None:
        raise Unprocessable(problem)


async def _open_proposal(
    uow: UnitOfWork, proposal_id: str, context: Context[FollowupSettings]
) -> dict[str, Any]:
    proposal = await adapters.find(uow, adapters.PROPOSALS, {"_id": proposal_id})
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    await workable_customer(uow, proposal["customer_id"], context.caller)
    return proposal


async def revise_proposal(
    command: ReviseProposal, context: Context[FollowupSettings]
) -> dict[str, Any]:
    proposal_id, revision = command.proposal_id, command.revision

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        proposal = await _open_proposal(uow, proposal_id, context)
        if (problem := revision_problem(proposal["status"])) is not None:
            raise Conflict(problem, status=proposal["status"])
        latest = proposal["revisions"][-1]
        # A revision written before line prices existed has none.
        current = ProposalContent(**{k: latest[k] for k in CONTENT if k in latest})
        content = revised(current, revision.model_dump(exclude={"note"}))
        if content is None:
            raise Conflict("the revision changes nothing")
        if content.line_prices != current.line_prices:
            customer_id = proposal["customer_id"]
            await _priceable(uow, customer_id, proposal["opportunity_id"], content)
        number = proposal["revision"] + 1
        after = await adapters.update(
            uow,
            adapters.PROPOSALS,
            {"_id": proposal_id, "revision": proposal["revision"]},
            {
                "$set": {"revision": number},
                "$push": {"revisions": _revision(content, number, revision.note)},
            },
        )
        if after is None:
            raise Conflict(f"proposal {proposal_id} was revised meanwhile: read it again")
        uow.emit(
            ProposalRevised(
                producer=PRODUCER,
                customer_id=proposal["customer_id"],
                correlation_id=context.correlation_id,
                payload=ProposalPayload(
                    **content.model_dump(),
                    proposal_id=proposal_id,
                    opportunity_id=proposal["opportunity_id"],
                    revision=number,
                    note=revision.note,
                ),
            )
        )
        return after

    return await context.store.run(work)


async def decide_proposal(
    command: DecideProposal, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """Withdrawn, accepted or rejected: final."""
    proposal_id, decision = command.proposal_id, command.decision

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        proposal = await _open_proposal(uow, proposal_id, context)
        if (problem := decision_problem(proposal["status"], decision)) is not None:
            raise Conflict(problem, status=proposal["status"])
        after = await adapters.update(
            uow,
            adapters.PROPOSALS,
            {"_id": proposal_id, "status": "open"},
            {
                "$set": {
                    "status": DECISIONS[decision],
                    "decided_at": datetime.now(UTC),
                    "decision_reason": command.reason,
                }
            },
        )
        if after is None:
            raise Conflict(f"proposal {proposal_id} was decided meanwhile: read it again")
        uow.emit(
            EVENTS[decision](
                producer=PRODUCER,
                customer_id=proposal["customer_id"],
                correlation_id=context.correlation_id,
                payload=ProposalDecisionPayload(
                    proposal_id=proposal_id, revision=proposal["revision"], reason=command.reason
                ),
            )
        )
        return after

    return await context.store.run(work)
