"""Scoring's reactions: the engine, on MongoDB state, in one transaction with the CustomerScored
events it emits (only when a result changes)."""

from crm_contracts import CustomerScored, Event, events
from crm_runtime.consumer import EventHandler
from crm_runtime.store import UnitOfWork

from crm_scoring.adapters import MongoState
from crm_scoring.engine import react

PRODUCER = "scoring"
CONSUMED = (*events.CUSTOMER_SERVICE_EVENTS, *events.FOLLOWUP_EVENTS)


def handlers(model_version: str) -> dict[type[Event], EventHandler]:
    async def score(event: Event, uow: UnitOfWork) -> None:
        for customer_id, assessment in await react(MongoState(uow), event, model_version):
            uow.emit(
                CustomerScored(
                    producer=PRODUCER,
                    customer_id=customer_id,
                    correlation_id=event.correlation_id,
                    causation_id=event.event_id,
                    payload=assessment.payload(),
                )
            )

    return dict.fromkeys(CONSUMED, score)
