"""Scoring's reactions and commands. Each event updates its customer's features in the MongoDB
state of its partition batch; before the batch commits, each customer it changed is re-scored once,
and a CustomerScored is emitted in the same transaction when its result changed."""

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
from crm_scoring.engine import rescore_each, update
from crm_scoring.settings import ScoringSettings

PRODUCER = "scoring"


TOUCHED = "scoring.touched"  # in the unit of work's memo: customer id -> its latest event


async def score(event: Event, uow: UnitOfWork, model_version: str, snapshots: Snapshots) -> None:
    # Registered before the state's own write-back, so that the results join the customers'
    # single write.
    uow.before_commit(TOUCHED, lambda: _rescore_touched(uow, model_version, snapshots))
    if await update(MongoState(uow, snapshots), event):
        touched: dict[str, Event] = uow.memo.setdefault(TOUCHED, {})
        touched[event.customer_id] = event


async def _rescore_touched(uow: UnitOfWork, model_version: str, snapshots: Snapshots) -> None:
    """Each customer the batch changed, re-scored once; its CustomerScored is caused by the
    batch's latest event about it."""
    touched: dict[str, Event] = uow.memo.pop(TOUCHED, {})
    state = MongoState(uow, snapshots)
    for customer_id, assessment in await rescore_each(state, touched, model_version):
        cause = touched[customer_id]
        uow.emit(scored(customer_id, assessment, cause.correlation_id, cause.event_id))


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
