"""The scoring service on real Kafka and mongod: scores move with reasons, nothing is emitted for
no change, deals of similar customers count, a restart mid-stream loses and repeats nothing."""

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerUpdated,
    CustomerUpdatedPayload,
    DealClosed,
    DealClosedPayload,
    FinancialsRecorded,
    FinancialsRecordedPayload,
    FollowupUpdated,
    FollowupUpdatedPayload,
    VisitLogged,
    VisitLoggedPayload,
    parse_event,
    topic_of,
)
from crm_scoring.bootstrap import bootstrap
from crm_scoring.settings import ScoringSettings

NOW = datetime.now(UTC)


def created(customer_id: str, industry: str, **fields) -> CustomerCreated:
    facts = {"size": "large", "region": "east", "monthly_freight_volume_tons": 500, **fields}
    return CustomerCreated(
        producer="customer",
        customer_id=customer_id,
        payload=CustomerCreatedPayload(name=f"{customer_id} Ltd", industry=industry, **facts),
    )


def facts(followup_id: str, channel: str = "visit", days_ago: int = 1) -> VisitLoggedPayload:
    return VisitLoggedPayload(
        followup_id=followup_id,
        salesperson_id="sp-1",
        channel=channel,
        subject="visit",
        started_at=NOW - timedelta(days=days_ago),
        ended_at=NOW - timedelta(days=days_ago, minutes=-30),
    )


def visit(customer_id: str, channel: str = "visit", days_ago: int = 1) -> VisitLogged:
    return VisitLogged(
        producer="followup",
        customer_id=customer_id,
        payload=facts(str(uuid.uuid4()), channel, days_ago),
    )


def deal(customer_id: str, outcome: str = "won") -> DealClosed:
    facts = {"amount": "10", "currency": "CNY"} if outcome == "won" else {"lost_reason": "price"}
    return DealClosed(
        producer="followup",
        customer_id=customer_id,
        payload=DealClosedPayload(deal_id=str(uuid.uuid4()), outcome=outcome, **facts),
    )


async def publish(kafka, *events) -> None:
    for event in events:
        await kafka.publish(topic_of(event.event_type), event.to_bytes(), key=event.key())


async def scores_of(kafka, customer_id: str, expect: int, settle_s: float = 1.0) -> list:
    records = await kafka.read(
        topic_of("CustomerScored"),
        kafka.where(customer_id=customer_id),
        expect=expect,
        settle_s=settle_s,
    )
    return [parse_event(record.value) for record in records]


async def scored_in_turn(kafka, customer_id: str, *events) -> dict:
    """Publishes the events one at a time, each once the one before was scored: a partition batch
    re-scores a customer once, whatever the number of its events in it."""
    for event in events:
        await publish(kafka, event)
        await scored_by(kafka, customer_id, event)
    return await scored_by(kafka, customer_id, *events)


async def scored_by(kafka, customer_id: str, *causes) -> dict:
    """The CustomerScored payload caused by each of `causes`, once each has arrived (a record may
    be published twice: counting records would not tell which causes are in)."""
    by_cause = {}
    for cause in causes:
        match = kafka.where(customer_id=customer_id, causation_id=cause.event_id)
        (record, *_) = await kafka.read(topic_of("CustomerScored"), match)
        by_cause[cause.event_id] = parse_event(record.value).payload
    return by_cause


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(ScoringSettings)))


async def test_a_score_moves_with_its_reasons_after_financials_and_after_follow_ups(service, kafka):
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    first = created(customer_id, "retail")
    financials = FinancialsRecorded(
        producer="customer",
        customer_id=customer_id,
        payload=FinancialsRecordedPayload(
            statements=[{"year": 2025, "revenue": "1000"}],
            ratios=[
                {
                    "year": 2025,
                    "current_ratio": 1.6,
                    "debt_to_asset_ratio": 0.3,
                    "sales_profit_margin": 0.09,
                    "receivables_turnover": 9,
                    "operating_cash_flow": "100",
                }
            ],
        ),
    )
    followup = visit(customer_id)
    by_cause = await scored_in_turn(kafka, customer_id, first, financials, followup)
    after_create, after_financials = by_cause[first.event_id], by_cause[financials.event_id]
    assert after_financials.score > after_create.score
    assert any(
        c.factor == "financial.current_ratio" and c.points > 0
        for c in after_financials.contributions
    )
    final = by_cause[followup.event_id]
    assert final.score > after_financials.score and "1 follow-up(s) by visit" in " ".join(
        final.reasons
    )
    for payload in by_cause.values():
        assert sum(c.points for c in payload.contributions) == payload.score
        assert payload.rule_version == "value-v3"  # the default model


async def test_a_corrected_follow_up_date_and_channel_move_the_engagement(service, kafka, http):
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    logged = visit(customer_id, "call", days_ago=100)
    first = created(customer_id, "retail")
    await scored_in_turn(kafka, customer_id, first, logged)
    followup_id = logged.payload.followup_id
    correction = FollowupUpdated(
        producer="followup",
        customer_id=customer_id,
        payload=FollowupUpdatedPayload(
            followup_id=followup_id,
            version=2,
            changed=["started_at", "ended_at", "channel", "salesperson_id"],
            followup=facts(followup_id, "visit", days_ago=1).model_copy(
                update={"salesperson_id": "sp-2"}
            ),
        ),
    )
    await publish(kafka, correction)
    by_cause = await scored_by(kafka, customer_id, logged, correction)
    before, after = by_cause[logged.event_id], by_cause[correction.event_id]
    assert after.score > before.score
    reasons = " ".join(after.reasons)
    assert "last follow-up 1 day(s) before" in reasons and "1 follow-up(s) by visit" in reasons
    async with http(service, role="manager") as manager:
        known = (await manager.get(f"/customers/{customer_id}/features")).json()
    assert known["features"]["followups"][followup_id]["channel"] == "visit"
    assert known["features"]["followups"][followup_id]["version"] == 2


async def test_nothing_is_emitted_when_nothing_that_counts_changed(service, kafka, eventually):
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    address_only = CustomerUpdated(
        producer="customer",
        customer_id=customer_id,
        payload=CustomerUpdatedPayload(
            version=2, changed=["address"], fields={"address": "1 Bund Road"}
        ),
    )
    # An industry of its own: other tests' deals re-score customers of theirs.
    the_first = created(customer_id, f"industry-{uuid.uuid4().hex[:6]}")
    # On the same topic and key as the three before it (so applied after them) and scored.
    sentinel = CustomerUpdated(
        producer="customer",
        customer_id=customer_id,
        payload=CustomerUpdatedPayload(version=3, changed=["size"], fields={"size": "small"}),
    )
    await scored_in_turn(kafka, customer_id, the_first)
    await publish(kafka, address_only, the_first)
    inbox = service.store.db["processed_events"]

    async def applied() -> bool:
        return await inbox.count_documents({"_id": str(address_only.event_id)}) == 1

    # Applied before the sentinel is sent: in the sentinel's batch, its score would cover theirs.
    await eventually(applied)
    await publish(kafka, sentinel)
    # One customer's events on one topic are scored in order: once the sentinel's score is out,
    # every score the events before it caused is out too.
    await scored_by(kafka, customer_id, sentinel)
    # All of them are in the topic by now: the settle only reads to its end.
    scored = await scores_of(kafka, customer_id, expect=2, settle_s=1)
    # A record may repeat; a new model snapshot (other tests' deals move the global rate) may
    # re-score the customer too, caused by no event.
    causes = list(dict.fromkeys(e.causation_id for e in scored if e.causation_id is not None))
    assert causes == [the_first.event_id, sentinel.event_id]


async def test_deals_of_similar_customers_move_the_win_probability(service, kafka, eventually):
    industry = f"industry-{uuid.uuid4().hex[:6]}"
    # Only the industry is shared with other tests' customers' segments: the rest is left unknown.
    alone = {"size": None, "region": None, "monthly_freight_volume_tons": None}
    # First, deals lost elsewhere, in a snapshot: the industry's deals, all won, then beat the
    # global rate whatever other tests of this run (same database) closed.
    elsewhere = [f"c-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    other_industry = f"industry-{uuid.uuid4().hex[:6]}"
    await publish(kafka, *(created(other, other_industry, **alone) for other in elsewhere))
    for other in elsewhere:  # a deal teaches the model only about a customer it knows
        await scores_of(kafka, other, expect=1, settle_s=0)
    lost = [deal(other, "lost") for other in elsewhere]
    await publish(kafka, *lost)
    deals = service.store.db["deals_learned"]
    lost_ids = [event.payload.deal_id for event in lost]

    async def counted() -> bool:
        query = {"_id": {"$in": lost_ids}, "counted": {"$exists": True}}
        return await deals.count_documents(query) == len(lost_ids)

    await eventually(counted)
    watched = f"c-{uuid.uuid4().hex[:8]}"
    await publish(kafka, created(watched, industry, **alone))
    before = (await scores_of(kafka, watched, expect=1, settle_s=0))[0].payload.win_probability
    similar = [f"c-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    await publish(kafka, *(created(other, industry, **alone) for other in similar))
    for other in similar:
        await scores_of(kafka, other, expect=1, settle_s=0)
    await publish(kafka, *(deal(other) for other in similar))

    def learnt_from_the_industry(record) -> bool:
        if record.key != watched.encode():
            return False
        effects = parse_event(record.value).payload.probability_contributions
        return any(e.feature == "industry" and e.log_odds > 0 for e in effects)

    # From the 5th deal on (min_support) the industry counts; later deals may move it less than the
    # one point that is announced.
    records = await kafka.read(topic_of("CustomerScored"), learnt_from_the_industry)
    latest = parse_event(records[0].value).payload
    assert latest.win_probability > before
    (effect,) = [e for e in latest.probability_contributions if e.feature == "industry"]
    assert effect.log_odds > 0 and " 0 lost" in effect.reason
    log_odds = latest.prior_log_odds + sum(e.log_odds for e in latest.probability_contributions)
    assert round(1 / (1 + math.exp(-log_odds)), 4) == latest.win_probability


async def test_a_restart_in_the_middle_of_a_stream_neither_loses_nor_repeats_an_event(
    settings_for, running, kafka, eventually
):
    settings = settings_for(ScoringSettings, service_name=f"scoring-restart-{uuid.uuid4().hex[:4]}")
    first = await running(bootstrap(settings))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    visits = [visit(customer_id) for _ in range(40)]
    start = created(customer_id, "retail")
    await publish(kafka, start, *visits[:20])
    ours = [str(event.event_id) for event in (start, *visits)]

    async def applied() -> int:
        return await first.store.db["processed_events"].count_documents({"_id": {"$in": ours}})

    await eventually(applied)
    await first.stop()  # mid-stream: some of the first 21 applied, the rest not yet, or all
    await publish(kafka, *visits[20:])
    second = await running(bootstrap(settings))

    async def all_applied():
        return (
            await second.store.db["processed_events"].count_documents({"_id": {"$in": ours}}) == 41
        )

    await eventually(all_applied)
    stored = await second.store.db["customer_features"].find_one({"_id": customer_id})
    assert len(stored["features"]["followups"]) == 40

    async def all_published():
        return await second.store.db["outbox"].count_documents({"sent": False}) == 0

    await eventually(all_published)
    scored = await scores_of(kafka, customer_id, expect=1, settle_s=2)
    results_per_cause: dict = {}
    for event in scored:  # a re-published record repeats its event_id; a re-applied event would not
        if event.causation_id is not None:  # else a new model snapshot's re-scoring: no event
            results_per_cause.setdefault(event.causation_id, set()).add(event.event_id)
    assert all(len(ids) == 1 for ids in results_per_cause.values()), "no event was applied twice"


async def test_managers_edit_strategies_and_the_matching_one_is_recommended(service, http, kafka):
    industry = f"industry-{uuid.uuid4().hex[:6]}"
    async with http(service) as manager:
        saved = await manager.put(
            f"/strategies/{industry}-care",
            json={
                "name": "Large accounts care",
                "segment": {"industries": [industry]},
                "contact_every_days": 14,
                "channel": "visit",
                "offer": "dedicated lane pricing",
                "owner_seniority": 3,
            },
        )
        again = await manager.put(
            f"/strategies/{industry}-care",
            json={
                "name": "Large accounts care",
                "segment": {"industries": [industry]},
                "contact_every_days": 7,
                "channel": "visit",
                "offer": "dedicated lane pricing",
                "owner_seniority": 3,
            },
        )
        versions = (await manager.get(f"/strategies/{industry}-care/versions")).json()
        bad = await manager.put(
            "/strategies/x",
            json={
                "name": "x",
                "contact_every_days": 0,
                "channel": "fax",
                "offer": "x",
                "owner_seniority": 9,
            },
        )
        too_long_an_id = await manager.put(
            f"/strategies/{'s' * 65}",
            json={
                "name": "x",
                "contact_every_days": 7,
                "channel": "visit",
                "offer": "x",
                "owner_seniority": 1,
            },
        )
    async with http(service, role="salesperson", salesperson_id="sp-1") as salesperson:
        refused = await salesperson.put("/strategies/y", json={})
    assert (saved.json()["version"], again.json()["version"]) == (1, 2)
    assert (
        [v["version"] for v in versions] == [2, 1]
        and bad.status_code == 422
        and too_long_an_id.status_code == 422
        and refused.status_code == 403
    )
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    await publish(kafka, created(customer_id, industry))
    (scored,) = await scores_of(kafka, customer_id, expect=1, settle_s=0)
    assert scored.payload.strategy.strategy_id == f"{industry}-care"
    assert (scored.payload.strategy.version, scored.payload.strategy.contact_every_days) == (2, 7)
