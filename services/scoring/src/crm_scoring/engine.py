"""How scoring reacts to an event, written once for the live service (state in MongoDB) and for
replays (state in memory), so that both give the same scores for the same events in the same
order."""

from typing import Any, Protocol

from crm_contracts import DealClosed, Event

from crm_scoring.domain.assessment import Assessment, assess
from crm_scoring.domain.features import Features, apply
from crm_scoring.domain.strategy import Strategy
from crm_scoring.domain.win_probability import WinCounts

ResultKey = list[Any]  # what counts as a change worth announcing, as stored (plain JSON)

# A deal re-scores at most this many customers of the same industry (by id): the cost of one deal
# stays bounded; the others are re-scored at their own next event.
SIMILAR_LIMIT = 20


class ScoringState(Protocol):
    """What the engine reads and writes. Two implementations, proved alike by one contract suite
    (tests/integration/test_scoring_state_contract.py): adapters.MongoState for the live service
    and memory_state.InMemoryState for replays. Writes are read back at once; strategies are the
    active ones by id; similar customers come by id, at most `limit` of them."""

    async def features(self, customer_id: str) -> Features: ...
    async def save_features(self, customer_id: str, features: Features) -> None: ...
    async def counts(self) -> WinCounts: ...
    async def learn(self, segment: dict[str, str], outcome: str) -> None: ...
    async def strategies(self) -> list[Strategy]: ...
    async def last(self, customer_id: str) -> ResultKey | None: ...
    async def save_last(self, customer_id: str, key: ResultKey) -> None: ...
    async def similar(
        self, customer_id: str, industry: str, limit: int
    ) -> list[tuple[str, Features]]: ...


def key_of(assessment: Assessment) -> ResultKey:
    score, tier, probability, strategy, model = assessment.key()
    # A change of the win probability is announced from one percentage point: every deal moves
    # every customer's probability a little, and announcing each move would drown the topic.
    return [score, tier, round(probability, 2), list(strategy) if strategy else None, model]


async def rescore(
    state: ScoringState, customer_id: str, features: Features, cause: Event, model_version: str
) -> Assessment | None:
    """The new assessment, or None when nothing worth announcing changed."""
    assessment = assess(
        features, await state.counts(), await state.strategies(), cause.occurred_at, model_version
    )
    key = key_of(assessment)
    if key == await state.last(customer_id):
        return None
    await state.save_last(customer_id, key)
    return assessment


async def react(
    state: ScoringState, event: Event, model_version: str
) -> list[tuple[str, Assessment]]:
    """Updates the customer's features (and the win counts for a deal) and re-scores whoever the
    event concerns: the customer, and after a deal the customers of the same industry."""
    before = await state.features(event.customer_id)
    after = apply(before, event)
    # A deal teaches the model once, whatever the event ids it comes under (an outcome corrected
    # later changes the features, not the counts).
    is_new_deal = False
    if isinstance(event, DealClosed) and event.payload.deal_id not in before.deals:
        is_new_deal = True
        await state.learn(after.segment(), event.payload.outcome)
    if after == before and not is_new_deal:
        return []
    if after != before:
        await state.save_features(event.customer_id, after)
    rescored = [
        (event.customer_id, await rescore(state, event.customer_id, after, event, model_version))
    ]
    if is_new_deal and after.industry:
        for other_id, other in await state.similar(
            event.customer_id, after.industry, SIMILAR_LIMIT
        ):
            rescored.append((other_id, await rescore(state, other_id, other, event, model_version)))
    return [
        (customer_id, assessment) for customer_id, assessment in rescored if assessment is not None
    ]
