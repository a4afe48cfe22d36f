"""How scoring reacts to an event and to a new model snapshot, written once for the live service
(state in MongoDB) and for replays (state in memory), so that both give the same scores for the
same events.

An event updates its customer's features, and the customer is re-scored with the current snapshot
(live, once per partition batch, whatever the number of its events in the batch); a deal is only
recorded (once per deal id). A single writer turns the deals recorded since the last
snapshot into the next one; then every customer whose announced result that snapshot changes is
re-scored. Final results are thus a function of the events, whatever their interleaving."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crm_contracts import DealClosed, Event

from crm_scoring.domain.assessment import Assessment, assess, win_estimate
from crm_scoring.domain.features import Features, apply
from crm_scoring.domain.strategy import Strategy
from crm_scoring.domain.win_probability import WinModel

ResultKey = list[Any]  # what counts as a change worth announcing, as stored (plain JSON)


class ScoringState(Protocol):
    """What the engine reads and writes. Two implementations, proved alike by one contract suite
    (tests/integration/test_scoring_state_contract.py): adapters.MongoState for the live service
    (one partition batch, or one page of a re-scoring) and memory_state.InMemoryState for replays.
    Writes are read back at once; strategies are the active ones by id; `model` is the latest
    snapshot, never older than one a customer was scored with."""

    async def features(self, customer_id: str) -> Features: ...
    async def save_features(self, customer_id: str, features: Features) -> None: ...
    async def learn(self, deal_id: str, customer_id: str, outcome: str) -> None: ...
    async def model(self) -> WinModel: ...
    async def strategies(self) -> list[Strategy]: ...
    async def last(self, customer_id: str) -> ResultKey | None: ...
    async def save_last(self, customer_id: str, key: ResultKey, snapshot: int) -> None: ...


def key_of(assessment: Assessment) -> ResultKey:
    score, tier, probability, strategy, model = assessment.key()
    # A change of the win probability is announced from one percentage point: every snapshot moves
    # many customers' probabilities a little, and announcing each move would drown the topic.
    return [score, tier, announced(probability), list(strategy) if strategy else None, model]


def announced(probability: float) -> float:
    return round(probability, 2)


async def rescore(
    state: ScoringState, customer_id: str, features: Features, model_version: str
) -> Assessment | None:
    """The new assessment with the current snapshot, or None when nothing worth announcing
    changed."""
    model = await state.model()
    assessment = assess(features, model, await state.strategies(), model_version)
    key = key_of(assessment)
    if key == await state.last(customer_id):
        return None
    await state.save_last(customer_id, key, model.version)
    return assessment


async def react(
    state: ScoringState, event: Event, model_version: str
) -> list[tuple[str, Assessment]]:
    """Updates the customer's features and re-scores it."""
    if not await update(state, event):
        return []
    return await rescore_each(state, [event.customer_id], model_version)


async def update(state: ScoringState, event: Event) -> bool:
    """Updates the customer's features; whether they changed (and the customer needs a new
    assessment). A deal is recorded for the next snapshot, once whatever the event ids it comes
    under (an outcome corrected later changes the features, not what the model learnt)."""
    before = await state.features(event.customer_id)
    after = apply(before, event)
    if isinstance(event, DealClosed) and event.payload.deal_id not in before.deals:
        await state.learn(event.payload.deal_id, event.customer_id, event.payload.outcome)
    if after == before:
        return False
    await state.save_features(event.customer_id, after)
    return True


async def rescore_each(
    state: ScoringState, customer_ids: Iterable[str], model_version: str
) -> list[tuple[str, Assessment]]:
    """Re-scores each customer with its features and the current snapshot: those whose result
    changed, with their new assessment. A customer's result depends on its features and the
    snapshot alone, so re-scoring it once after several of its events (live: once per partition
    batch) ends where re-scoring it after each would."""
    rescored = []
    for customer_id in customer_ids:
        assessment = await rescore(
            state, customer_id, await state.features(customer_id), model_version
        )
        if assessment is not None:
            rescored.append((customer_id, assessment))
    return rescored


def snapshot_due(waiting: int, waited_s: float, every_deals: int, every_s: float) -> bool:
    """Whether to build the next snapshot: enough deals wait, or some have waited long enough
    (`waited_s`: since the last snapshot was built)."""
    return waiting >= every_deals or (waiting > 0 and waited_s >= every_s)


@dataclass(frozen=True)
class Scored:
    """What a re-scoring reads of a customer before deciding whether a snapshot changes it."""

    customer_id: str
    segment: Mapping[str, str] | None  # None: not stored yet (read the features)
    last: ResultKey | None


def moved_by(model: WinModel, customers: Iterable[Scored], model_version: str) -> list[str]:
    """The customers whose announced win probability `model` changes (each distinct segment's
    estimate computed once): only they need their features read and a full assessment."""
    return [
        customer.customer_id
        for customer in customers
        if customer.last is None
        or customer.segment is None
        or announced(win_estimate(model, dict(customer.segment), model_version).probability)
        != customer.last[2]
    ]


async def rescore_moved(
    state: ScoringState, customers: Iterable[Scored], model_version: str
) -> list[tuple[str, Assessment]]:
    """Re-scores, with the state's current snapshot, the customers it moves."""
    return await rescore_each(
        state, moved_by(await state.model(), customers, model_version), model_version
    )
