"""Scoring's reactions: each event updates the customer's signals and re-scores it, in one
transaction with the CustomerScored event it emits."""

from typing import Any

from crm_contracts import CustomerCreated, CustomerScored, CustomerScoredPayload, DealClosed, Event, VisitLogged
from crm_runtime.consumer import EventHandler
from crm_runtime.store import UnitOfWork
from crm_scoring import adapters
from crm_scoring.domain import RULE_VERSION, assess

PRODUCER = "scoring"


async def _rescore(event: Event, uow: UnitOfWork, update: dict[str, Any]) -> None:
    assessment = assess(await adapters.update_signals(uow, event.customer_id, update))
    uow.emit(
        CustomerScored(
            producer=PRODUCER,
            customer_id=event.customer_id,
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            payload=CustomerScoredPayload(
                score=assessment.score,
                tier=assessment.tier,
                win_probability=assessment.win_probability,
                reasons=assessment.reasons,
                rule_version=RULE_VERSION,
            ),
        )
    )


async def on_customer_created(event: CustomerCreated, uow: UnitOfWork) -> None:
    facts = event.payload
    await _rescore(event, uow, {"$set": {
        "monthly_freight_volume_tons": facts.monthly_freight_volume_tons,
        "size": facts.size,
        "nature": facts.nature.value,
    }})


async def on_visit_logged(event: VisitLogged, uow: UnitOfWork) -> None:
    await _rescore(event, uow, {"$inc": {"followups": 1}})


async def on_deal_closed(event: DealClosed, uow: UnitOfWork) -> None:
    counter = "deals_won" if event.payload.outcome == "won" else "deals_lost"
    await _rescore(event, uow, {"$inc": {counter: 1}})


HANDLERS: dict[type[Event], EventHandler] = {
    CustomerCreated: on_customer_created,
    VisitLogged: on_visit_logged,
    DealClosed: on_deal_closed,
}
