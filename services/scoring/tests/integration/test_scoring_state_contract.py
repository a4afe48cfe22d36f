"""One contract for scoring's state, proved on both implementations: the in-memory one the replays
use and MongoDB inside real transactions (the live service: a partition batch per transaction, and
the single writer's snapshots and re-scoring pages). Every test runs on each: what the engine sees
and what it ends with must not depend on where the state is kept."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest
from crm_contracts import (
    CustomerCreated,
    CustomerUpdated,
    DealClosed,
    Event,
    VisitLogged,
    parse_event,
)
from crm_runtime.outbox import COMMIT_ORDER
from crm_runtime.store import Store, UnitOfWork
from crm_scoring import adapters
from crm_scoring.adapters import MongoState, Snapshots
from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Segment, Strategy, StrategyDefinition
from crm_scoring.domain.win_probability import WinCounts, WinModel, learn
from crm_scoring.engine import ResultKey, ScoringState, react
from crm_scoring.memory_state import InMemoryState
from crm_scoring.settings import ScoringSettings
from crm_scoring.snapshots import SnapshotWriter
from pymongo import AsyncMongoClient

MODEL = "value-v1"
T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
Body = Callable[[ScoringState], Awaitable[None]]


class Scoring(Protocol):
    """One implementation, driven as the live service drives it."""

    async def within(self, body: Body) -> None:
        """`body` on the state, in one transaction."""

    async def apply(self, events: Sequence[Event], batch: int = 1000) -> list[str]:
        """The events in batches of `batch` (one transaction each); the customers announced."""

    async def publish(self) -> list[str]:
        """The next snapshot, then the re-scoring of whoever it moves; the customers announced."""

    async def results(self) -> dict[str, ResultKey]: ...
    async def snapshot(self) -> WinModel: ...


class InMemory:
    def __init__(self, catalogue: list[Strategy]) -> None:
        self.state = InMemoryState(catalogue=catalogue)

    async def within(self, body: Body) -> None:
        await body(self.state)

    async def apply(self, events: Sequence[Event], batch: int = 1000) -> list[str]:
        return [cid for event in events for cid, _ in await react(self.state, event, MODEL)]

    async def publish(self) -> list[str]:
        return sorted(customer_id for customer_id, _ in await self.state.publish(MODEL))

    async def results(self) -> dict[str, ResultKey]:
        return dict(self.state.results)

    async def snapshot(self) -> WinModel:
        return self.state.snapshot


class InMongoDB:
    def __init__(self, store: Store, settings: ScoringSettings) -> None:
        self.store = store
        self.snapshots = Snapshots()
        self.writer = SnapshotWriter(store, Snapshots(), settings)

    async def within(self, body: Body) -> None:
        await self.store.run(lambda uow: body(MongoState(uow, self.snapshots)))

    async def apply(self, events: Sequence[Event], batch: int = 1000) -> list[str]:
        announced: list[str] = []

        async def handle(event: Event, uow: UnitOfWork) -> None:
            rescored = await react(MongoState(uow, self.snapshots), event, MODEL)
            announced.extend(customer_id for customer_id, _ in rescored)

        for start in range(0, len(events), batch):
            await self.store.run_batch(events[start : start + batch], handle)
        return announced

    async def publish(self) -> list[str]:
        before = await self.store.db["outbox"].count_documents({})
        await self.writer.build()
        while await self.writer.step():
            pass
        assert await self.writer.settled()
        emitted = await self.store.db["outbox"].find({}).sort(COMMIT_ORDER).skip(before).to_list()
        return sorted(parse_event(doc["value"]).customer_id for doc in emitted)

    async def results(self) -> dict[str, ResultKey]:
        found = await adapters.results(self.store)
        return {customer_id: key for customer_id, key in found.items() if key is not None}

    async def snapshot(self) -> WinModel:
        return await Snapshots().latest(self.store.db)


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


Make = Callable[..., Awaitable[Scoring]]  # make(catalogue={id: definition})


@pytest.fixture(params=["in memory", "mongodb"])
async def make(request: pytest.FixtureRequest, infra, namespace) -> AsyncIterator[Make]:
    """make(catalogue): a fresh state of one implementation whose strategy catalogue holds
    `catalogue`."""
    if request.param == "in memory":

        async def in_memory(catalogue: Mapping[str, StrategyDefinition] = {}) -> Scoring:
            return InMemory(in_catalogue(catalogue))

        yield in_memory
        return
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    names: list[str] = []

    async def in_mongodb(catalogue: Mapping[str, StrategyDefinition] = {}) -> Scoring:
        store = Store(client, f"{namespace}_scoring_contract_{uuid.uuid4().hex[:8]}")
        names.append(store.db.name)
        await adapters.create_indexes(store)

        async def save_catalogue(uow: UnitOfWork) -> None:
            for strategy_id, saved in catalogue.items():
                await adapters.save_strategy(uow, strategy_id, saved, "test")

        await store.run(save_catalogue)
        settings = ScoringSettings(model_version=MODEL, rescore_page_size=3)
        return InMongoDB(store, settings)

    try:
        yield in_mongodb
    finally:
        for name in names:
            await client.drop_database(name)
        await client.close()


def created(customer_id: str, at: datetime = T0, **fields: Any) -> CustomerCreated:
    return CustomerCreated(
        producer="customer",
        customer_id=customer_id,
        occurred_at=at,
        payload={"name": f"Customer {customer_id}", **fields},
    )


def updated(customer_id: str, at: datetime, **fields: Any) -> CustomerUpdated:
    return CustomerUpdated(
        producer="customer",
        customer_id=customer_id,
        occurred_at=at,
        payload={"version": 2, "changed": list(fields), "fields": fields},
    )


def deal(customer_id: str, deal_id: str, outcome: str = "won", at: datetime = T0) -> DealClosed:
    facts = {"amount": "10", "currency": "CNY"} if outcome == "won" else {"lost_reason": "price"}
    return DealClosed(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={"deal_id": deal_id, "outcome": outcome, **facts},
    )


def visit(customer_id: str, at: datetime) -> VisitLogged:
    return VisitLogged(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={
            "followup_id": str(uuid.uuid4()),
            "salesperson_id": "sp-1",
            "channel": "visit",
            "subject": "visit",
            "started_at": at,
            "ended_at": at + timedelta(hours=1),
        },
    )


RETAIL = Features(industry="Retail", size="large", region="east")


# --- one transaction ----------------------------------------------------------------------------


async def test_a_customer_never_saved_has_empty_features_and_no_last_result(make):
    async def body(state: ScoringState) -> None:
        assert await state.features("c-1") == Features()
        assert await state.last("c-1") is None

    await (await make()).within(body)


async def test_saved_features_are_read_back_at_once_even_after_a_read(make):
    async def body(state: ScoringState) -> None:
        assert await state.features("c-1") == Features()
        await state.save_features("c-1", RETAIL)
        assert await state.features("c-1") == RETAIL
        corrected = RETAIL.model_copy(update={"region": "west", "followups": {"fu-1": {}}})
        await state.save_features("c-1", corrected)
        assert await state.features("c-1") == corrected
        assert await state.features("c-2") == Features()

    await (await make()).within(body)


async def test_a_saved_last_result_is_read_back_at_once_and_kept_apart_from_the_features(make):
    key = [71, "A", 0.42, ["s-1", 2], "value-v1"]

    async def body(state: ScoringState) -> None:
        assert await state.last("c-1") is None
        await state.save_last("c-1", key, 0)
        assert await state.last("c-1") == key
        assert await state.features("c-1") == Features()
        await state.save_features("c-1", RETAIL)
        assert (await state.last("c-1"), await state.features("c-1")) == (key, RETAIL)
        await state.save_last("c-1", [*key[:4], "value-v2"], 0)
        assert await state.last("c-1") == [*key[:4], "value-v2"]

    await (await make()).within(body)


async def test_what_one_transaction_saved_the_next_reads(make):
    scoring = await make()

    async def save(state: ScoringState) -> None:
        await state.save_features("c-1", RETAIL)
        await state.save_last("c-1", [1, "D", 0.5, None, MODEL], 0)

    async def read(state: ScoringState) -> None:
        assert await state.features("c-1") == RETAIL
        assert await state.last("c-1") == [1, "D", 0.5, None, MODEL]

    await scoring.within(save)
    await scoring.within(read)


async def test_the_strategies_are_the_active_ones_of_the_catalogue_by_id(make):
    catalogue = {
        "s-b": definition("B", industries=["retail"]),
        "s-off": definition("Off", active=False),
        "s-a": definition("A", tiers=["A"], regions=["east"]),
    }
    expected = sorted((s for s in in_catalogue(catalogue) if s.active), key=lambda s: s.strategy_id)

    async def body(state: ScoringState) -> None:
        assert await state.strategies() == expected

    await (await make(catalogue)).within(body)


async def test_no_strategies_in_an_empty_catalogue(make):
    async def body(state: ScoringState) -> None:
        assert await state.strategies() == []

    await (await make()).within(body)


async def test_before_any_deal_the_model_is_the_empty_snapshot(make):
    async def body(state: ScoringState) -> None:
        model = await state.model()
        assert (model.version, model.counts) == (0, WinCounts())

    await (await make()).within(body)


# --- deals and snapshots ------------------------------------------------------------------------


async def test_deals_wait_for_the_next_snapshot_which_learns_each_under_its_segment(make):
    scoring = await make()
    await scoring.apply(
        [
            created("c-1", industry="Retail", region="east"),
            created("c-2", industry="mining"),
            deal("c-1", "d-1", "won"),
            deal("c-1", "d-2", "lost"),
            deal("c-2", "d-3", "won"),
        ]
    )
    assert (await scoring.snapshot()).version == 0
    await scoring.publish()
    retail = {"industry": "retail", "region": "east", "nature": "other"}
    expected = learn(
        learn(learn(WinCounts(), retail, "won"), retail, "lost"),
        {"industry": "mining", "nature": "other"},
        "won",
    )
    model = await scoring.snapshot()
    assert (model.version, dict(model.counts.by_key)) == (1, dict(expected.by_key))


async def test_a_deal_of_a_customer_of_unknown_segment_counts_overall_only(make):
    scoring = await make()
    await scoring.apply([deal("c-1", "d-1", "lost")])
    await scoring.publish()
    assert dict((await scoring.snapshot()).counts.by_key) == {"*": (0, 1)}


async def test_a_deal_is_learnt_once_with_its_first_outcome(make):
    scoring = await make()
    await scoring.apply([created("c-1"), deal("c-1", "d-1", "won")])
    await scoring.apply([deal("c-1", "d-1", "lost", T0 + timedelta(days=1))])
    await scoring.publish()
    model = await scoring.snapshot()
    assert (model.counts.won, model.counts.lost) == (1, 0)


async def test_a_snapshot_re_scores_every_customer_it_moves_and_only_them(make):
    scoring = await make()
    announced = await scoring.apply(
        [created(f"c-{n}", industry=industry) for n, industry in enumerate("aabbc")]
    )
    assert sorted(announced) == [f"c-{n}" for n in range(5)]
    await scoring.apply([deal("c-0", "d-1", "won")])
    assert await scoring.publish() == [f"c-{n}" for n in range(5)]  # the prior moved them all
    results = await scoring.results()
    assert {key[2] for key in results.values()} == {0.67}
    await scoring.apply([deal("c-0", "d-2", "won"), deal("c-2", "d-3", "lost")])
    await scoring.apply([deal("c-4", "d-4", "won")])
    assert await scoring.publish() == []  # 2/3 again overall; no value has 5 deals yet
    assert (await scoring.snapshot()).version == 2 and await scoring.results() == results


async def test_a_deal_known_before_its_customer_counts_under_the_segment_it_then_has(make):
    scoring = await make()
    await scoring.apply([deal("c-1", "d-1", "won")])
    await scoring.apply([created("c-1", industry="retail")])
    await scoring.publish()
    assert dict((await scoring.snapshot()).counts.by_key) == {
        "*": (1, 0),
        "industry=retail": (1, 0),
        "nature=other": (1, 0),
    }


async def test_a_customer_moving_segment_takes_its_deals_along(make):
    scoring = await make()
    await scoring.apply([created("c-1", industry="retail"), deal("c-1", "d-1", "won")])
    await scoring.publish()
    await scoring.apply([updated("c-1", T0 + timedelta(days=1), industry="mining")])
    await scoring.publish()
    model = await scoring.snapshot()
    assert model.version == 2
    assert dict(model.counts.by_key) == {
        "*": (1, 0),
        "industry=mining": (1, 0),
        "nature=other": (1, 0),
    }


async def test_the_final_results_do_not_depend_on_batches_or_snapshot_times(make):
    customers = [f"c-{n}" for n in range(7)]
    history: list[Event] = []
    for n, customer_id in enumerate(customers):
        history.append(created(customer_id, T0 + timedelta(hours=n), industry="ab"[n % 2]))
    for day in range(1, 7):
        for n, customer_id in enumerate(customers):
            at = T0 + timedelta(days=day, hours=n)
            history.append(visit(customer_id, at))
            if (day + n) % 3 == 0:
                outcome = "won" if (n % 2 == 0) == (day % 4 != 0) else "lost"
                history.append(deal(customer_id, f"d-{day}-{n}", outcome, at))
    one_go = await make()
    await one_go.apply(history)
    await one_go.publish()
    in_steps = await make()
    for start in range(0, len(history), 9):
        await in_steps.apply(history[start : start + 9], batch=4)
        await in_steps.publish()
    assert (await in_steps.snapshot()).version > (await one_go.snapshot()).version == 1
    assert (await in_steps.snapshot()).counts == (await one_go.snapshot()).counts
    assert await in_steps.results() == await one_go.results()


async def test_live_and_in_memory_states_end_with_the_same_results(make):
    history = [
        created("c-1", industry="retail", region="east", monthly_freight_volume_tons=700.0),
        created("c-2", industry="retail", size="large"),
        deal("c-1", "d-1", "won"),
        visit("c-2", T0 + timedelta(days=1)),
        deal("c-2", "d-2", "lost", T0 + timedelta(days=2)),
        updated("c-2", T0 + timedelta(days=3), region="east"),
    ]
    scoring, reference = await make(), InMemoryState()
    await scoring.apply(history, batch=2)
    await scoring.publish()
    for event in history:
        await react(reference, event, MODEL)
    await reference.publish(MODEL)
    assert await scoring.results() == reference.results
    assert (await scoring.snapshot()).counts == reference.snapshot.counts
