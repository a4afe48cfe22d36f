"""Opportunities through the stages, and deals that close them."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    DealClosed,
    DealClosedPayload,
    OpportunityOpened,
    OpportunityOpenedPayload,
    StageChanged,
    StageChangedPayload,
)
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.handlers import Context
from crm_runtime.pipeline import LOST, WON, Pipeline
from crm_runtime.store import UnitOfWork
from pymongo.errors import DuplicateKeyError

from crm_followup import adapters
from crm_followup.domain.deals import CloseDeal
from crm_followup.domain.opportunities import MoveStage, OpenOpportunity, ReopenOpportunity
from crm_followup.domain.pipeline import StageVisit, time_in_stages
from crm_followup.handlers.common import PRODUCER, credited, workable_customer
from crm_followup.settings import FollowupSettings


def with_time_in_stages(opportunity: dict[str, Any]) -> dict[str, Any]:
    visits = [StageVisit(entry["stage"], entry["entered_at"]) for entry in opportunity["history"]]
    return {**opportunity, "seconds_in_stages": time_in_stages(visits, datetime.now(UTC))}


async def open_opportunity(
    command: OpenOpportunity, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """Opens the customer's opportunity in the first stage; 409 while another is open."""

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, command.customer_id, context.caller)
        return await _open(uow, context, command.customer_id, reopened_from=None)

    return await _one_open(context, command.customer_id, work)


async def reopen_opportunity(
    command: ReopenOpportunity, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """A lost opportunity comes back as a new one, in the first stage."""
    lost_id = command.opportunity_id
    lost = await adapters.find(context.store, adapters.OPPORTUNITIES, {"_id": lost_id})
    if lost is None:
        raise NotFound(f"no opportunity {lost_id}")
    customer_id = lost["customer_id"]

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, customer_id, context.caller)
        if lost["status"] != LOST:
            raise Conflict(f"only a lost opportunity is reopened; {lost_id} is {lost['status']}")
        return await _open(uow, context, customer_id, reopened_from=lost_id)

    return await _one_open(context, customer_id, work)


async def _open(
    uow: UnitOfWork,
    context: Context[FollowupSettings],
    customer_id: str,
    reopened_from: str | None,
) -> dict[str, Any]:
    pipeline = context.settings.pipeline
    now = datetime.now(UTC)
    opportunity = {
        "_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "stage": pipeline.first,
        "status": "open",
        "win_probability": pipeline.probability(pipeline.first),
        "reopened_from": reopened_from,
        "history": [{"stage": pipeline.first, "entered_at": now, "reason": "opened"}],
        "opened_at": now,
        "closed_at": None,
    }
    await adapters.insert(uow, adapters.OPPORTUNITIES, opportunity)
    uow.emit(
        OpportunityOpened(
            producer=PRODUCER,
            customer_id=customer_id,
            correlation_id=context.correlation_id,
            payload=OpportunityOpenedPayload(
                opportunity_id=opportunity["_id"],
                stage=pipeline.first,
                win_probability=opportunity["win_probability"],
                reopened_from=reopened_from,
            ),
        )
    )
    return with_time_in_stages(opportunity)


async def _one_open(
    context: Context[FollowupSettings],
    customer_id: str,
    work: Callable[[UnitOfWork], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Runs `work`, which opens an opportunity; the database keeps one open per customer."""
    try:
        return await context.store.run(work)
    except DuplicateKeyError:
        current = await adapters.find(
            context.store, adapters.OPPORTUNITIES, {"customer_id": customer_id, "status": "open"}
        )
        raise Conflict(
            f"customer {customer_id} has an open opportunity already",
            opportunity_id=current and current["_id"],
        ) from None


async def _move(
    uow: UnitOfWork,
    pipeline: Pipeline,
    opportunity: dict[str, Any],
    to_stage: str,
    reason: str | None,
    correlation_id: UUID,
) -> dict[str, Any]:
    if (problem := pipeline.move_problem(opportunity["stage"], to_stage)) is not None:
        raise Conflict(problem, stage=opportunity["stage"])
    now = datetime.now(UTC)
    entered = opportunity["history"][-1]["entered_at"]
    final = pipeline.is_final(to_stage)
    moved = await adapters.update(
        uow,
        adapters.OPPORTUNITIES,
        {"_id": opportunity["_id"], "stage": opportunity["stage"]},
        {
            "$set": {
                "stage": to_stage,
                "win_probability": pipeline.probability(to_stage),
                "status": to_stage if final else "open",
                "closed_at": now if final else None,
            },
            "$push": {"history": {"stage": to_stage, "entered_at": now, "reason": reason}},
        },
    )
    if moved is None:
        raise Conflict(f"opportunity {opportunity['_id']} moved meanwhile: read it again")
    uow.emit(
        StageChanged(
            producer=PRODUCER,
            customer_id=opportunity["customer_id"],
            correlation_id=correlation_id,
            payload=StageChangedPayload(
                opportunity_id=opportunity["_id"],
                from_stage=opportunity["stage"],
                to_stage=to_stage,
                win_probability=pipeline.probability(to_stage),
                reason=reason,
                seconds_in_previous_stage=max(0.0, (now - entered).total_seconds()),
            ),
        )
    )
    return moved


async def move_stage(command: MoveStage, context: Context[FollowupSettings]) -> dict[str, Any]:
    """A move the pipeline does not allow is a 409 with the reason."""
    if command.to_stage in (WON, LOST):
        raise Conflict(
            f"an opportunity becomes {command.to_stage} by closing its deal: POST /deals"
        )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        opportunity = await adapters.find(
            uow, adapters.OPPORTUNITIES, {"_id": command.opportunity_id}
        )
        if opportunity is None:
            raise NotFound(f"no opportunity {command.opportunity_id}")
        await workable_customer(uow, opportunity["customer_id"], context.caller)
        return await _move(
            uow,
            context.settings.pipeline,
            opportunity,
            command.to_stage,
            command.reason,
            context.correlation_id,
        )

    return with_time_in_stages(await context.store.run(work))


async def close_deal(command: CloseDeal, context: Context[FollowupSettings]) -> dict[str, Any]:
    """Records the deal; the customer's open opportunity, if any, moves to won or lost with it."""
    deal_id = str(uuid.uuid4())
    salesperson_id = credited(context.caller, command.salesperson_id)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, command.customer_id, context.caller)
        opportunity = await adapters.find(
            uow, adapters.OPPORTUNITIES, {"customer_id": command.customer_id, "status": "open"}
        )
        if opportunity is not None:
            await _move(
                uow,
                context.settings.pipeline,
                opportunity,
                command.outcome,
                f"deal {deal_id}",
                context.correlation_id,
            )
        payload = DealClosedPayload(
            **command.model_dump(exclude={"customer_id", "salesperson_id"}),
            salesperson_id=salesperson_id,
            deal_id=deal_id,
            opportunity_id=opportunity and opportunity["_id"],
        )
        event = DealClosed(
            producer=PRODUCER,
            customer_id=command.customer_id,
            correlation_id=context.correlation_id,
            payload=payload,
        )
        stored = deal_document(command.customer_id, payload, PRODUCER, event.event_id)
        await adapters.insert(uow, adapters.DEALS, stored)
        uow.emit(event)
        return stored

    return await context.store.run(work)


def deal_document(
    customer_id: str, payload: DealClosedPayload, source: str, event_id: UUID
) -> dict[str, Any]:
    return {
        "_id": payload.deal_id,
        "customer_id": customer_id,
        **payload.model_dump(mode="json"),
        "source": source,
        "event_id": str(event_id),
        "closed_at": datetime.now(UTC),
    }
