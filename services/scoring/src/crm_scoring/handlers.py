"""Scoring's reactions and commands. Each event runs the engine on the MongoDB state of its
partition batch, in the batch's transaction with the CustomerScored events it emits (only when a
result changes)."""

from typing import Any
from uuid import UUID

from crm_contracts import CustomerScored, Event, events
from crm_contracts.common import Id
from crm_runtime.handlers import Command, Context, EventHandlers
from crm_runtime.store import UnitOfWork

from crm_scoring import adapters
from crm_scoring.adapters import MongoState, Snapshots
from crm_scoring.domain.assessment import Assessment
from crm_scoring.domain.strategy import StrategyDefinition
from crm_scoring.engine import react
from crm_scoring.settings import ScoringSettings

PRODUCER = "scoring"


async def score(event: Event, uow: UnitOfWork, model_version: str, snapshots: Snapshots) -> None:
    for customer_id, assessment in await react(MongoState(uow, snapshots), event, model_version):
        uow.emit(scored(customer_id, assessment, event.correlation_id, event.event_id))


def scored(
    customer_id: str, assessment: Assessment, correlation_id: UUID, causation_id: UUID | None
) -> CustomerScored:
    return CustomerScored(
        producer=PRODUCER,
        customer_id=customer_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=assessment.payload(),
    )


EVENT_HANDLERS: EventHandlers = {
    event_type: [score] for event_type in (*events.CUSTOMER_SERVICE_EVENTS, *events.FOLLOWUP_EVENTS)
}


class SaveStrategy(Command):
    strategy_id: Id  # it goes into every CustomerScored that recommends the strategy
    definition: StrategyDefinition


async def save_strategy(command: SaveStrategy, context: Context[ScoringSettings]) -> dict[str, Any]:
    """A new version of the strategy, used from the next scoring on; every version stays
    readable."""
    by = context.caller.user_id if context.caller else PRODUCER
    return await context.store.run(
        lambda uow: adapters.save_strategy(uow, command.strategy_id, command.definition, by)
    )
