"""One contract for scoring's state, proved on both implementations: the in-memory one the replays
use and MongoDB inside a real transaction (the live service). Every test runs on each: what the
engine sees must not depend on where the state is kept."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import pytest
from crm_runtime.store import Store, UnitOfWork
from crm_scoring import adapters
from crm_scoring.adapters import MongoState
from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Segment, Strategy, StrategyDefinition
from crm_scoring.domain.win_probability import WinCounts, learn
from crm_scoring.engine import ScoringState
from crm_scoring.memory_state import InMemoryState
from pymongo import AsyncMongoClient

Body = Callable[[ScoringState], Awaitable[None]]
Within = Callable[..., Awaitable[None]]  # within(body, catalogue={id: definition})


def definition(name: str, active: bool = True, **segment: list[str]) -> StrategyDefinition:
    return StrategyDefinition(
        name=name,
        segment=Segment(**segment),
        contact_every_days=14,
        channel="visit",
        offer="lane pricing",
        owner_seniority=2,
        active=active,
    )


def in_catalogue(catalogue: Mapping[str, StrategyDefinition]) -> list[Strategy]:
    """The catalogue as first saved: each strategy at version 1."""
    return [
        Strategy(strategy_id=strategy_id, version=1, **definition.model_dump())
        for strategy_id, definition in catalogue.items()
    ]


@pytest.fixture(params=["in memory", "mongodb"])
async def within(request: pytest.FixtureRequest, infra, namespace) -> AsyncIterator[Within]:
    """within(body, catalogue): runs body on a fresh state of one implementation whose strategy
    catalogue holds `catalogue`."""
    if request.param == "in memory":

        async def in_memory(body: Body, catalogue: Mapping[str, StrategyDefinition] = {}) -> None:
            await body(InMemoryState(catalogue=in_catalogue(catalogue)))

        yield in_memory
        return
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    store = Store(client, f"{namespace}_scoring_contract_{uuid.uuid4().hex[:8]}")
    await adapters.create_indexes(store)

    async def in_mongodb(body: Body, catalogue: Mapping[str, StrategyDefinition] = {}) -> None:
        async def save_catalogue(uow: UnitOfWork) -> None:
            for strategy_id, saved in catalogue.items():
                await adapters.save_strategy(uow, strategy_id, saved, "test")

        await store.run(save_catalogue)
        await store.run(lambda uow: body(MongoState(uow)))

    try:
        yield in_mongodb
    finally:
        await client.drop_database(store.db.name)
        await client.close()


RETAIL = Features(industry="Retail", size="large", region="east")


async def test_a_customer_never_saved_has_empty_features_and_no_last_result(within):
    async def body(state: ScoringState) -> None:
        assert await state.features("c-1") == Features()
        assert await state.last("c-1") is None

    await within(body)


async def test_saved_features_are_read_back_at_once_even_after_a_read(within):
    async def body(state: ScoringState) -> None:
        assert await state.features("c-1") == Features()
        await state.save_features("c-1", RETAIL)
        assert await state.features("c-1") == RETAIL
        corrected = RETAIL.model_copy(update={"region": "west", "followups": {"fu-1": {}}})
        await state.save_features("c-1", corrected)
        assert await state.features("c-1") == corrected
        assert await state.features("c-2") == Features()

    await within(body)


async def test_a_saved_last_result_is_read_back_at_once_and_kept_apart_from_the_features(within):
    key = [71, "A", 0.42, ["s-1", 2], "value-v1"]

    async def body(state: ScoringState) -> None:
        assert await state.last("c-1") is None
        await state.save_last("c-1", key)
        assert await state.last("c-1") == key
        assert await state.features("c-1") == Features()
        await state.save_features("c-1", RETAIL)
        assert (await state.last("c-1"), await state.features("c-1")) == (key, RETAIL)
        await state.save_last("c-1", [*key[:4], "value-v2"])
        assert await state.last("c-1") == [*key[:4], "value-v2"]

    await within(body)


async def test_win_counts_start_empty_and_learn_each_deal_under_every_key_of_its_segment(within):
    retail = {"industry": "retail", "region": "east"}
    mining = {"industry": "mining"}
    expected = learn(learn(learn(WinCounts(), retail, "won"), retail, "lost"), mining, "won")

    async def body(state: ScoringState) -> None:
        assert (await state.counts()).by_key == {}
        await state.learn(retail, "won")
        await state.learn(retail, "lost")
        await state.learn(mining, "won")
        counts = await state.counts()
        assert dict(counts.by_key) == dict(expected.by_key)
        assert (counts.won, counts.lost) == (2, 1)

    await within(body)


async def test_learning_from_a_deal_of_an_unknown_segment_counts_it_overall_only(within):
    async def body(state: ScoringState) -> None:
        await state.learn({}, "lost")
        assert dict((await state.counts()).by_key) == {"*": (0, 1)}

    await within(body)


async def test_the_strategies_are_the_active_ones_of_the_catalogue_by_id(within):
    catalogue = {
        "s-b": definition("B", industries=["retail"]),
        "s-off": definition("Off", active=False),
        "s-a": definition("A", tiers=["A"], regions=["east"]),
    }
    expected = sorted((s for s in in_catalogue(catalogue) if s.active), key=lambda s: s.strategy_id)

    async def body(state: ScoringState) -> None:
        assert await state.strategies() == expected

    await within(body, catalogue)


async def test_no_strategies_in_an_empty_catalogue(within):
    async def body(state: ScoringState) -> None:
        assert await state.strategies() == []

    await within(body)


async def test_similar_customers_share_the_industry_whatever_its_case_and_spaces(within):
    async def body(state: ScoringState) -> None:
        await state.save_features("c-1", RETAIL)
        await state.save_features("c-3", Features(industry="  retail "))
        await state.save_features("c-2", Features(industry="RETAIL", region="west"))
        await state.save_features("c-4", Features(industry="mining"))
        await state.save_features("c-5", Features())
        await state.save_last("c-6", [1, "C", 0.1, None, "value-v1"])
        assert await state.similar("c-1", " Retail", 20) == [
            ("c-2", Features(industry="RETAIL", region="west")),
            ("c-3", Features(industry="  retail ")),
        ]
        assert await state.similar("c-9", "mining", 20) == [("c-4", Features(industry="mining"))]
        assert await state.similar("c-1", "shipping", 20) == []

    await within(body)


async def test_similar_customers_come_by_id_up_to_the_limit(within):
    async def body(state: ScoringState) -> None:
        for n in (5, 1, 4, 2, 3, 0):
            await state.save_features(f"c-{n}", Features(industry="retail", size=str(n)))
        found = await state.similar("c-2", "retail", 3)
        assert [customer_id for customer_id, _ in found] == ["c-0", "c-1", "c-3"]
        assert [features.size for _, features in found] == ["0", "1", "3"]

    await within(body)


async def test_a_similar_customer_saved_again_is_read_back_as_saved(within):
    async def body(state: ScoringState) -> None:
        await state.save_features("c-1", Features(industry="retail"))
        ((other_id, other),) = await state.similar("c-0", "retail", 20)
        rescored = other.model_copy(update={"deals": {"d-1": "won"}})
        await state.save_features(other_id, rescored)
        await state.save_last(other_id, [1, "C", 0.5, None, "value-v1"])
        assert await state.features(other_id) == rescored
        assert await state.last(other_id) == [1, "C", 0.5, None, "value-v1"]

    await within(body)
