"""Deals: each closes one opportunity (won or lost) or stands alone; a won deal's lines are the
customer's contracted lanes."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import DealClosed, DealClosedPayload, LinePrice, ServiceLine
from crm_runtime.errors import Conflict, Unprocessable
from crm_runtime.handlers import Context
from crm_runtime.pipeline import Pipeline
from crm_runtime.store import UnitOfWork

from crm_followup import adapters
from crm_followup.domain.deals import CloseDeal
from crm_followup.domain.opportunities import StageMove, closing_choice, priced, terms_of
from crm_followup.handlers.common import PRODUCER, credited, workable_customer
from crm_followup.handlers.pipeline import known_modes, move, stored_opportunity
from crm_followup.settings import FollowupSettings


async def close_deal(command: CloseDeal, context: Context[FollowupSettings]) -> dict[str, Any]:
    """Records the deal and moves the opportunity it closes to won or lost: the one it names, or
    the customer's only open one (422 when it has several and the deal names none)."""
    deal_id = str(uuid.uuid4())
    salesperson_id = credited(context.caller, command.salesperson_id)
    known_modes(command.lines, context.settings)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, command.customer_id, context.caller)
        opportunity = await _closed_by(uow, command)
        lines = command.lines
        if opportunity is not None:
            if command.outcome == "won" and not lines:
                lines = await won_lines(uow, opportunity)
            step = StageMove(to_stage=command.outcome, reason=f"deal {deal_id}")
            cause = (context.correlation_id, None)
            await move(uow, context.settings.pipeline, opportunity, step, cause)
        payload = DealClosedPayload(
            **command.model_dump(
                exclude={"customer_id", "salesperson_id", "opportunity_id", "lines"}
            ),
            lines=lines,
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


async def _closed_by(uow: UnitOfWork, command: CloseDeal) -> dict[str, Any] | None:
    """The opportunity the deal closes: the one named (404 if not the customer's, 409 if closed),
    else the customer's only open one, else none."""
    if command.opportunity_id is not None:
        named = await stored_opportunity(uow, command.opportunity_id, command.customer_id)
        if named["status"] != "open":
            raise Conflict(
                f"opportunity {command.opportunity_id} is {named['status']} already",
                status=named["status"],
            )
        return named
    found = await adapters.of_customer(
        uow, adapters.OPPORTUNITIES, command.customer_id, status="open"
    )
    chosen, problem = closing_choice([item["_id"] for item in found])
    if problem is not None:
        raise Unprocessable(problem, open=[item["_id"] for item in found])
    return next((item for item in found if item["_id"] == chosen), None)


async def won_lines(uow: UnitOfWork, opportunity: dict[str, Any]) -> list[ServiceLine]:
    """The opportunity's lines, at the rates of its latest accepted proposal where it gave one."""
    accepted = await adapters.latest_accepted_proposal(uow, opportunity["_id"])
    prices = accepted["revisions"][-1].get("line_prices", []) if accepted else []
    return priced(terms_of(opportunity).lines, [LinePrice.model_validate(p) for p in prices])


async def close_from_outside(event: DealClosed, uow: UnitOfWork, pipeline: Pipeline) -> None:
    """A deal another system (the ERP) closed on one of this service's open opportunities moves
    it to won or lost too; one already closed stays as it is."""
    opportunity_id = event.payload.opportunity_id
    if event.producer == PRODUCER or opportunity_id is None:
        return  # ours moved its opportunity when it was closed
    opportunity = await adapters.find(
        uow,
        adapters.OPPORTUNITIES,
        {"_id": opportunity_id, "customer_id": event.customer_id, "status": "open"},
    )
    if opportunity is None:
        return
    step = StageMove(to_stage=event.payload.outcome, reason=f"deal {event.payload.deal_id}")
    cause: tuple[UUID, UUID | None] = (event.correlation_id, event.event_id)
    await move(uow, pipeline, opportunity, step, cause, by_the_rules=False)


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
