"""Requirement proposals: written, revised (every revision kept), then withdrawn, accepted or
rejected."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

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
from crm_contracts.common import Id, LongText, Money, Text
from crm_runtime.auth import Principal
from crm_runtime.store import Store, UnitOfWork
from pydantic import BaseModel, ConfigDict, Field

from crm_followup import adapters
from crm_followup.domain.proposals import DECISIONS, decision_problem, revised, revision_problem
from crm_followup.handlers import PRODUCER, Conflict, NotFound, workable_customer

EVENTS = {"withdraw": ProposalWithdrawn, "accept": ProposalAccepted, "reject": ProposalRejected}
CONTENT = set(ProposalContent.model_fields)


class WriteProposal(ProposalContent):
    model_config = ConfigDict(frozen=True, extra="forbid")
    customer_id: Id
    opportunity_id: Id | None = None


class ReviseProposal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    needs: list[Text] | None = Field(default=None, min_length=1, max_length=50)
    solution: LongText | None = None
    price: Money | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    note: Text = Field(description="What changed and why: kept with the revision.")


def _revision(content: ProposalContent, number: int, note: str | None) -> dict[str, Any]:
    return {
        "revision": number,
        **content.model_dump(mode="json"),
        "note": note,
        "at": datetime.now(UTC),
    }


async def write(
    store: Store, command: WriteProposal, caller: Principal, correlation_id: UUID
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

    async def work(uow: UnitOfWork) -> None:
        await workable_customer(uow, command.customer_id, caller)
        if command.opportunity_id is not None:
            opportunity = await adapters.find(
                uow, adapters.OPPORTUNITIES, {"_id": command.opportunity_id}
            )
            if opportunity is None or opportunity["customer_id"] != command.customer_id:
                raise NotFound(
                    f"no opportunity {command.opportunity_id} of customer {command.customer_id}"
                )
        await adapters.insert(uow, adapters.PROPOSALS, proposal)
        uow.emit(
            ProposalCreated(
                producer=PRODUCER,
                customer_id=command.customer_id,
                correlation_id=correlation_id,
                payload=ProposalPayload(
                    **content.model_dump(),
                    proposal_id=proposal["_id"],
                    opportunity_id=command.opportunity_id,
                    revision=1,
                ),
            )
        )

    await store.run(work)
    return proposal


async def _open_for_change(uow: UnitOfWork, proposal_id: str, caller: Principal) -> dict[str, Any]:
    proposal = await adapters.find(uow, adapters.PROPOSALS, {"_id": proposal_id})
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    await workable_customer(uow, proposal["customer_id"], caller)
    return proposal


async def revise(
    store: Store, proposal_id: str, command: ReviseProposal, caller: Principal, correlation_id: UUID
) -> dict[str, Any]:
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        proposal = await _open_for_change(uow, proposal_id, caller)
        if (problem := revision_problem(proposal["status"])) is not None:
            raise Conflict(problem, status=proposal["status"])
        latest = proposal["revisions"][-1]
        current = ProposalContent(**{k: latest[k] for k in CONTENT})
        content = revised(current, command.model_dump(exclude={"note"}))
        if content is None:
            raise Conflict("the revision changes nothing")
        number = proposal["revision"] + 1
        after = await adapters.update(
            uow,
            adapters.PROPOSALS,
            {"_id": proposal_id, "revision": proposal["revision"]},
            {
                "$set": {"revision": number},
                "$push": {"revisions": _revision(content, number, command.note)},
            },
        )
        if after is None:
            raise Conflict(f"proposal {proposal_id} was revised meanwhile: read it again")
        uow.emit(
            ProposalRevised(
                producer=PRODUCER,
                customer_id=proposal["customer_id"],
                correlation_id=correlation_id,
                payload=ProposalPayload(
                    **content.model_dump(),
                    proposal_id=proposal_id,
                    opportunity_id=proposal["opportunity_id"],
                    revision=number,
                    note=command.note,
                ),
            )
        )
        return after

    return await store.run(work)


async def decide(
    store: Store,
    proposal_id: str,
    decision: str,
    reason: str | None,
    caller: Principal,
    correlation_id: UUID,
) -> dict[str, Any]:
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        proposal = await _open_for_change(uow, proposal_id, caller)
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
                    "decision_reason": reason,
                }
            },
        )
        uow.emit(
            EVENTS[decision](
                producer=PRODUCER,
                customer_id=proposal["customer_id"],
                correlation_id=correlation_id,
                payload=ProposalDecisionPayload(
                    proposal_id=proposal_id, revision=proposal["revision"], reason=reason
                ),
            )
        )
        return after

    return await store.run(work)
