"""The reports on a scripted history published straight onto Kafka, checked against numbers
counted here from the same script."""

import asyncio
import csv
import io
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from bson import Decimal128
from crm_contracts import (
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerScored,
    CustomerScoredPayload,
    DealClosed,
    DealClosedPayload,
    OpportunityOpened,
    OpportunityOpenedPayload,
    OpportunityTerms,
    OpportunityUpdated,
    OpportunityUpdatedPayload,
    ProposalCreated,
    ProposalPayload,
    ServiceLine,
    StageChanged,
    StageChangedPayload,
    VisitLogged,
    VisitLoggedPayload,
    topic_of,
)
from crm_contracts.common import MAX_FREIGHT_TONS
from crm_reporting import adapters, counters
from crm_reporting.bootstrap import bootstrap
from crm_reporting.settings import ReportingSettings
from targets import in_team, quota_set

DAY = timedelta(days=1)


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(ReportingSettings)))


def owned(
    customer_id: str, owner: str, at: datetime, name: str, tons: float, **profile: str
) -> list:
    """A customer created with a name, its freight and `profile`, and assigned to `owner`."""
    created = CustomerCreatedPayload(name=name, monthly_freight_volume_tons=tons, **profile)
    assigned = CustomerAssignedPayload(
        owner_id=owner, trigger="created", reason="new customer", why="test"
    )
    return [
        CustomerCreated(
            producer="customer", customer_id=customer_id, occurred_at=at, payload=created
        ),
        CustomerAssigned(
            producer="customer", customer_id=customer_id, occurred_at=at, payload=assigned
        ),
    ]


def script(region: str, start: datetime) -> tuple[list, dict]:
    """Six customers of two salespeople in `region`, with follow-ups, opportunities, a proposal and
    deals; returns the events and what the reports must say."""
    events = []
    expected = {
        "sp-a": {"new_leads": 4, "followups": 5, "deals_won": 2, "deals_lost": 1, "proposals": 1},
        "sp-b": {"new_leads": 2, "followups": 1, "deals_won": 0, "deals_lost": 1, "proposals": 0},
    }
    owners = ["sp-a", "sp-a", "sp-a", "sp-a", "sp-b", "sp-b"]
    tiers = ["A", "B", "B", "C", "C", "D"]
    ids = [f"c-{uuid.uuid4().hex[:8]}" for _ in owners]
    for n, (customer_id, owner, tier) in enumerate(zip(ids, owners, tiers, strict=True)):
        at = start + n * DAY
        profile = {"region": region, "industry": "retail"}
        events += [
            *owned(customer_id, owner, at, f"Report {n}", 100 * (n + 1), **profile),
            CustomerScored(
                producer="scoring",
                customer_id=customer_id,
                occurred_at=at,
                payload=CustomerScoredPayload(
                    score=50, tier=tier, win_probability=0.5, reasons=["test"], rule_version="test"
                ),
            ),
        ]
    visits = [
        (ids[0], "sp-a", "visit"),
        (ids[0], "sp-a", "call"),
        (ids[1], "sp-a", "visit"),
        (ids[2], "sp-a", "email"),
        (ids[3], "sp-a", "visit"),
        (ids[4], "sp-b", "call"),
    ]
    for n, (customer_id, salesperson, channel) in enumerate(visits):
        at = start + (10 + n) * DAY
        events.append(
            VisitLogged(
                producer="followup",
                customer_id=customer_id,
                occurred_at=at,
                payload=VisitLoggedPayload(
                    followup_id=f"f-{uuid.uuid4().hex[:8]}",
                    salesperson_id=salesperson,
                    channel=channel,
                    subject="s",
                    started_at=at,
                    ended_at=at + timedelta(hours=1),
                ),
            )
        )
    for n, customer_id in enumerate(ids[:4]):
        opened = start + (20 + n) * DAY
        events.append(
            OpportunityOpened(
                producer="followup",
                customer_id=customer_id,
                occurred_at=opened,
                payload=OpportunityOpenedPayload(
                    opportunity_id=f"o-{customer_id}", stage="qualified", win_probability=0.1
                ),
            )
        )
    events.append(
        StageChanged(
            producer="followup",
            customer_id=ids[3],
            occurred_at=start + 25 * DAY,
            payload=StageChangedPayload(
                opportunity_id=f"o-{ids[3]}",
                from_stage="qualified",
                to_stage="proposal",
                win_probability=0.5,
                seconds_in_previous_stage=86400,
            ),
        )
    )
    events.append(
        ProposalCreated(
            producer="followup",
            customer_id=ids[3],
            occurred_at=start + 25 * DAY,
            payload=ProposalPayload(
                proposal_id=f"p-{ids[3]}",
                opportunity_id=f"o-{ids[3]}",
                revision=1,
                needs=["lane"],
                solution="trucks",
                price="1000.00",
                currency="CNY",
            ),
        )
    )
    for n, (customer_id, salesperson, outcome) in enumerate(
        [
            (ids[0], "sp-a", "won"),
            (ids[1], "sp-a", "won"),
            (ids[2], "sp-a", "lost"),
            (ids[5], "sp-b", "lost"),
        ]
    ):
        at = start + (26 + n) * DAY
        facts = (
            {"amount": "500.00", "currency": "CNY", "monthly_freight_volume_tons": 10}
            if outcome == "won"
            else {"lost_reason": "price"}
        )
        opportunity = f"o-{customer_id}" if customer_id in ids[:3] else None
        events.append(
            DealClosed(
                producer="followup",
                customer_id=customer_id,
                occurred_at=at,
                payload=DealClosedPayload(
                    deal_id=f"d-{uuid.uuid4().hex[:8]}",
                    salesperson_id=salesperson,
                    outcome=outcome,
                    opportunity_id=opportunity,
                    **facts,
                ),
            )
        )
        if opportunity:
            events.append(
                StageChanged(
                    producer="followup",
                    customer_id=customer_id,
                    occurred_at=at,
                    payload=StageChangedPayload(
                        opportunity_id=opportunity,
                        from_stage="qualified",
                        to_stage=outcome,
                        win_probability=1.0 if outcome == "won" else 0.0,
                        seconds_in_previous_stage=86400,
                    ),
                )
            )
    return events, expected


async def applied(service, kafka, eventually, events: list) -> None:
    """Publishes the events and waits until the service has applied them all."""
    for event in events:
        await kafka.publish(topic_of(event.event_type), event.to_bytes(), key=event.key())
    ids = [str(event.event_id) for event in events]

    async def all_applied():
        inbox = service.store.db["processed_events"]
        applied = await inbox.count_documents({"_id": {"$in": ids}}) == len(ids)
        return applied and await counters.pending(service.store) == 0  # and counted

    # A new consumer group reads each topic from its start: on a long-lived local broker that is
    # long.
    await eventually(all_applied, timeout_s=180)


async def play(service, kafka, eventually, name: str) -> tuple[str, datetime, list, dict]:
    """Publishes the script for a new region in a random past period and waits until it is
    applied."""
    region = f"{name}-{uuid.uuid4().hex[:6]}"
    start = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(700))
    events, expected = script(region, start)
    await applied(service, kafka, eventually, events)
    return region, start, events, expected


async def test_every_report_agrees_with_the_script(service, kafka, http, eventually):
    region, start, _events, expected = await play(service, kafka, eventually, "report")

    period = {"since": start.isoformat(), "until": (start + 60 * DAY).isoformat()}
    async with http(service, role="ops") as ops:
        scorecard = (
            await ops.get("/reports/scorecard", params={**period, "region": region})
        ).json()
        funnel = (await ops.get("/reports/funnel", params={**period, "region": region})).json()
        value = (await ops.get("/reports/value", params={"region": region, "by": ["tier"]})).json()
        forecast_rows = (
            await ops.get("/reports/forecast", params={"salesperson_id": "sp-a"})
        ).json()["rows"]
        as_csv = await ops.get(
            "/reports/scorecard", params={**period, "region": region, "format": "csv"}
        )
        bad = await ops.get(
            "/reports/scorecard", params={"since": period["until"], "until": period["since"]}
        )
    async with http(service, role="salesperson", salesperson_id="sp-a") as salesperson:
        refused = await salesperson.get("/reports/funnel")

    rows = {row["salesperson_id"]: row for row in scorecard["rows"]}
    for salesperson, numbers in expected.items():
        assert {k: rows[salesperson][k] for k in numbers} == numbers, salesperson
    assert rows["sp-a"]["win_rate"] == round(2 / 3, 4) and rows["sp-b"]["win_rate"] == 0.0
    assert rows["sp-a"]["revenue_won"] == {"CNY": 1000.0} and rows["sp-a"]["freight_won_tons"] == 20
    assert rows["sp-a"]["followups_by_channel"] == {"call": 1, "email": 1, "visit": 3}

    stages = {row["stage"]: row for row in funnel["rows"]}
    assert funnel["opportunities"] == 4
    assert (
        stages["qualified"]["reached"],
        stages["proposal"]["open"],
        stages["won"]["reached"],
        stages["lost"]["reached"],
    ) == (4, 1, 2, 1)
    assert {row["tier"]: row["customers"] for row in value["rows"]} == {
        "A": 1,
        "B": 2,
        "C": 2,
        "D": 1,
    }
    assert forecast_rows[0]["weighted_forecast"]["CNY"] >= 500.0  # 1000 at the proposal stage's 0.5
    assert scorecard["as_of"]["newest_event_applied_at"] is not None

    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert {row["salesperson_id"]: row["deals_won"] for row in parsed} == {"sp-a": "2", "sp-b": "0"}
    assert bad.status_code == 422 and "not before" in bad.text
    assert refused.status_code == 403


async def test_a_rebuild_from_the_topics_gives_the_same_reports_while_the_live_ones_serve(
    service, settings_for, kafka, http, eventually
):
    from crm_reporting.rebuild import rebuild

    region, start, events, _ = await play(service, kafka, eventually, "rebuild")
    team = f"rebuild-{uuid.uuid4().hex[:6]}"
    targets = [in_team("sp-a", team), quota_set("team", team, str(start.year), "1000.00")]
    await applied(service, kafka, eventually, targets)

    period = {"since": start.isoformat(), "until": (start + 60 * DAY).isoformat()}
    customers = sorted({event.customer_id for event in events})

    async def reports(client) -> list:
        answers = [
            await client.get("/reports/scorecard", params={**period, "region": region}),
            await client.get("/reports/funnel", params={**period, "region": region}),
            await client.get("/reports/value", params={"region": region, "by": ["tier", "band"]}),
            # Unfiltered: every quota and team the topics hold, rebuilt too.
            *[
                await client.get("/reports/forecast/period", params={"period": year, **group})
                for year in (str(start.year), str(start.year + 1))
                for group in ({}, {"group": "team"}, {"by": "mode"})
            ],
            *[await client.get(f"/customers/{customer_id}") for customer_id in customers],
        ]
        return [{k: v for k, v in answer.json().items() if k != "as_of"} for answer in answers]

    async with http(service, role="admin") as client:
        before = await reports(client)
        rebuilding = asyncio.create_task(rebuild(service.settings))
        teams = {row["team"]: row for row in before[4]["rows"]}  # the first year, by team
        assert teams[team]["quota"]["revenue"] == 1000.0
        while not rebuilding.done():  # the live read models keep answering meanwhile
            assert (await client.get("/reports/funnel", params=period)).status_code == 200
            await asyncio.sleep(0.5)
        summary = rebuilding.result()
        after = await reports(client)
    assert summary["replayed"] >= len(events)
    for one, other in zip(before, after, strict=True):
        assert one == other


async def test_events_applied_while_a_rebuild_swaps_the_read_models_count_once(
    service, kafka, http, eventually, monkeypatch
):
    from crm_reporting import rebuild as rebuilding

    region, start, events, expected = await play(service, kafka, eventually, "swap")
    period = {"since": start.isoformat(), "until": (start + 60 * DAY).isoformat()}
    customer_id = events[0].customer_id  # sp-a's
    real_rename = rebuilding._rename

    async def slow_rename(client, source: str, to: str) -> None:
        await real_rename(client, source, to)
        await asyncio.sleep(0.4)  # a window between two collections' swaps, as a big one has

    monkeypatch.setattr(rebuilding, "_rename", slow_rename)
    published: list = []
    stop = asyncio.Event()

    async def follow_up_meanwhile() -> None:
        while not stop.is_set():
            at = start + 30 * DAY + timedelta(minutes=len(published))
            visit = VisitLogged(
                producer="followup",
                customer_id=customer_id,
                occurred_at=at,
                payload=VisitLoggedPayload(
                    followup_id=f"f-{uuid.uuid4().hex[:8]}",
                    salesperson_id="sp-a",
                    channel="visit",
                    subject="during the rebuild",
                    started_at=at,
                    ended_at=at + timedelta(hours=1),
                ),
            )
            await kafka.publish(topic_of(visit.event_type), visit.to_bytes(), key=visit.key())
            published.append(str(visit.event_id))
            await asyncio.sleep(0.05)

    publishing = asyncio.create_task(follow_up_meanwhile())
    try:
        await rebuilding.rebuild(service.settings)
    finally:
        stop.set()  # not cancelled: a visit sent but not counted here would be counted there
        await publishing

    async def all_applied() -> bool:
        inbox = service.store.db["processed_events"]
        applied = await inbox.count_documents({"_id": {"$in": published}}) == len(published)
        return applied and await counters.pending(service.store) == 0  # and counted

    await eventually(all_applied)
    async with http(service, role="ops") as ops:
        scorecard = (
            await ops.get("/reports/scorecard", params={**period, "region": region})
        ).json()
    rows = {row["salesperson_id"]: row for row in scorecard["rows"]}
    assert len(published) > 20
    assert rows["sp-a"]["followups"] == expected["sp-a"]["followups"] + len(published)
    assert rows["sp-b"]["followups"] == expected["sp-b"]["followups"]


async def test_the_funnel_follows_the_configured_pipeline(
    settings_for, running, kafka, http, eventually
):
    from crm_runtime.pipeline import Pipeline, Stage

    pipeline = Pipeline(
        stages=(
            Stage(name="lead", win_probability=0.2),
            Stage(name="trial", win_probability=0.6, may_win=True),
        )
    )
    service = await running(bootstrap(settings_for(ReportingSettings, pipeline=pipeline)))
    region = f"pipeline-{uuid.uuid4().hex[:6]}"
    start = datetime(2018, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(300))
    ids = [f"c-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    events: list = []
    for customer_id in ids:
        events += [
            CustomerCreated(
                producer="customer",
                customer_id=customer_id,
                occurred_at=start,
                payload=CustomerCreatedPayload(name="Trial Ltd", region=region),
            ),
            OpportunityOpened(
                producer="followup",
                customer_id=customer_id,
                occurred_at=start + DAY,
                payload=OpportunityOpenedPayload(
                    opportunity_id=f"o-{customer_id}", stage="lead", win_probability=0.2
                ),
            ),
        ]
    events.append(
        StageChanged(
            producer="followup",
            customer_id=ids[0],
            occurred_at=start + 3 * DAY,
            payload=StageChangedPayload(
                opportunity_id=f"o-{ids[0]}",
                from_stage="lead",
                to_stage="trial",
                win_probability=0.6,
                seconds_in_previous_stage=2 * 86400,
            ),
        )
    )
    await applied(service, kafka, eventually, events)
    period = {"since": start.isoformat(), "until": (start + 10 * DAY).isoformat()}
    async with http(service, role="manager") as manager:
        funnel = (await manager.get("/reports/funnel", params={**period, "region": region})).json()
    assert [
        (row["stage"], row["open"], row["reached"], row["conversion_from_previous"])
        for row in funnel["rows"]
    ] == [("lead", 1, 2, None), ("trial", 1, 1, 0.5), ("won", 0, 0, 0.0), ("lost", 0, 0, None)]


async def test_a_csv_cell_that_would_start_a_formula_is_quoted(service, kafka, http, eventually):
    region = f'=HYPERLINK("http://evil/{uuid.uuid4().hex[:6]}","x")'
    created = CustomerCreated(
        producer="customer",
        customer_id=f"c-{uuid.uuid4().hex[:8]}",
        payload=CustomerCreatedPayload(name="-2+3", region=region),
    )
    await applied(service, kafka, eventually, [created])
    async with http(service, role="manager") as manager:
        answer = await manager.get(
            "/reports/value", params={"region": region, "by": ["region"], "format": "csv"}
        )
    [row] = list(csv.DictReader(io.StringIO(answer.text)))
    assert row["region"] == f"'{region}"


async def test_a_period_beyond_the_calendar_is_refused_with_its_reason(service, http):
    async with http(service, role="manager") as manager:
        answers = [
            await manager.get(f"/reports/{report}", params={"until": until})
            for report in ("scorecard", "funnel")
            for until in ("0001-01-01T00:00:00Z", "9999-12-31T23:00:00-23:00")
        ]
    assert [answer.status_code for answer in answers] == [422] * 4
    # Refused as the bound is read (Instant): a day inside what a datetime holds, either end.
    for answer in answers:
        [problem] = answer.json()["detail"]
        assert problem["loc"] == ["query", "until"]
        assert "times must lie from 0001-01-02 to 9999-12-30 in UTC" in problem["msg"]


async def test_a_database_counted_by_the_version_before_is_counted_again_at_start_up(
    service, settings_for, running, kafka, http, eventually
):
    from crm_reporting import adapters

    region, start, _events, _ = await play(service, kafka, eventually, "recount")
    period = {"since": start.isoformat(), "until": (start + 60 * DAY).isoformat()}

    async def reports(instance) -> list:
        async with http(instance, role="ops") as ops:
            return [
                (await ops.get(f"/reports/{name}", params={**period, "region": region})).json()[
                    "rows"
                ]
                for name in ("scorecard", "funnel", "lifecycle")
            ]

    counted = await reports(service)
    db = service.store.db
    # As the version before left it: its collections, none of this version's.
    for name in adapters.OLD_COUNTING:
        await db[name].insert_one({"left": "by the version before"})
    for name in adapters.COUNTING:
        await db.drop_collection(name)

    upgraded = await running(bootstrap(settings_for(ReportingSettings)))

    async def counted_again():
        return await counters.pending(upgraded.store) == 0 and await reports(upgraded) == counted

    assert await eventually(counted_again)
    names = set(await db.list_collection_names())
    assert not names & set(adapters.OLD_COUNTING) and adapters.COUNTERS in names


async def test_the_largest_amounts_the_contracts_allow_add_up_in_the_reports(
    service, kafka, http, eventually
):
    # As 64-bit integers of millionths, one such amount overflowed (and ten sum to 1e23): the
    # counter upkeep failed on every try, and no report moved again.
    largest = "9999999999999999.99"  # Money: 18 digits, 2 of them decimal
    region, person = f"big-{uuid.uuid4().hex[:6]}", f"sp-big-{uuid.uuid4().hex[:6]}"
    at = datetime(2021, 3, 1, tzinfo=UTC)
    events: list = []
    for n in range(10):
        customer_id = f"c-big-{uuid.uuid4().hex[:8]}"
        opportunity = f"o-{customer_id}"
        events += [
            *owned(customer_id, person, at, f"Big {n}", MAX_FREIGHT_TONS, region=region),
            OpportunityOpened(
                producer="followup",
                customer_id=customer_id,
                occurred_at=at,
                payload=OpportunityOpenedPayload(
                    opportunity_id=opportunity, stage="proposal", win_probability=0.5
                ),
            ),
            ProposalCreated(
                producer="followup",
                customer_id=customer_id,
                occurred_at=at,
                payload=ProposalPayload(
                    proposal_id=f"p-{customer_id}",
                    opportunity_id=opportunity,
                    revision=1,
                    needs=["lane"],
                    solution="ships",
                    price=largest,
                    currency="CNY",
                ),
            ),
            DealClosed(
                producer="followup",
                customer_id=customer_id,
                occurred_at=at + DAY,
                payload=DealClosedPayload(
                    deal_id=f"d-{customer_id}",
                    salesperson_id=person,
                    outcome="won",
                    amount=largest,
                    currency="CNY",
                    monthly_freight_volume_tons=MAX_FREIGHT_TONS,
                ),
            ),
        ]
    await applied(service, kafka, eventually, events)  # counted too: the upkeep did not stall

    period = {"since": at.isoformat(), "until": (at + 2 * DAY).isoformat(), "region": region}
    async with http(service, role="ops") as ops:
        [row] = (await ops.get("/reports/scorecard", params=period)).json()["rows"]
        [forecast] = (await ops.get("/reports/forecast", params={"salesperson_id": person})).json()[
            "rows"
        ]
        value = (await ops.get("/reports/value", params={"region": region})).json()["rows"]
    each = float(largest)
    assert row["deals_won"] == 10
    assert row["revenue_won"]["CNY"] == pytest.approx(10 * each, rel=1e-12)
    assert row["freight_won_tons"] == pytest.approx(10 * MAX_FREIGHT_TONS, rel=1e-12)
    assert forecast["pipeline_value"]["CNY"] == pytest.approx(10 * each, rel=1e-12)
    assert forecast["weighted_forecast"]["CNY"] == pytest.approx(10 * each * 0.5, rel=1e-12)
    assert sum(group["customers"] for group in value) == 10
    assert sum(group["freight_tons"] for group in value) == pytest.approx(
        10 * MAX_FREIGHT_TONS, rel=1e-12
    )


async def test_a_counter_that_outgrows_64_bits_counts_on_in_decimal128(
    service, kafka, http, eventually
):
    # Each deal's 5e18 millionths fits a 64-bit integer, their sum does not: the second count's
    # change overflows what the first left in the counters, and is made again wide.
    half = "5000000000000.00"
    region, person = f"half-{uuid.uuid4().hex[:6]}", f"sp-half-{uuid.uuid4().hex[:6]}"
    at = datetime(2021, 5, 3, 9, tzinfo=UTC)

    async def revenue() -> list:
        kept = service.store.db[adapters.COUNTERS].find(
            {"family": "scorecard", "key.region": region, "key.industry": None}
        )
        return [
            amount
            async for counter in kept
            for name, amount in counter["n"].items()
            if name.endswith("|revenue_CNY")
        ]

    for n in range(2):  # one count each
        if n:  # the first, counted: 64-bit integers
            first = await revenue()
            assert first and all(isinstance(a, int) and a == 5 * 10**18 for a in first)
        customer_id = f"c-half-{uuid.uuid4().hex[:8]}"
        won = DealClosed(
            producer="followup",
            customer_id=customer_id,
            occurred_at=at,
            payload=DealClosedPayload(
                deal_id=f"d-{customer_id}",
                salesperson_id=person,
                outcome="won",
                amount=half,
                currency="CNY",
            ),
        )
        script = [*owned(customer_id, person, at, f"Half {n}", 1, region=region), won]
        await applied(service, kafka, eventually, script)

    period = {"since": at.isoformat(), "until": (at + 2 * DAY).isoformat(), "region": region}
    async with http(service, role="ops") as ops:
        [row] = (await ops.get("/reports/scorecard", params=period)).json()["rows"]
    assert row["deals_won"] == 2 and row["revenue_won"]["CNY"] == 10_000_000_000_000.0
    widened = await revenue()  # the second's change made again in Decimal128, which they keep
    assert widened and all(isinstance(amount, Decimal128) for amount in widened)
    assert {int(amount.to_decimal()) for amount in widened} == {10**19}


def opportunity(customer_id: str, at: datetime, **terms) -> OpportunityOpened:
    return OpportunityOpened(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload=OpportunityOpenedPayload(
            opportunity_id=f"o-{uuid.uuid4().hex[:8]}",
            stage="qualified",
            win_probability=terms.pop("win_probability", 0.1),
            **terms,
        ),
    )


async def test_the_period_forecast_sets_each_salesperson_and_team_against_their_quota(
    service, kafka, http, eventually
):
    run = uuid.uuid4().hex[:6]
    x, y, team, region = f"sp-x-{run}", f"sp-y-{run}", f"team-{run}", f"plan-{run}"
    at = datetime(2021, 4, 2, tzinfo=UTC)
    people = [in_team(x, team), in_team(y, team)]
    quotas = [
        quota_set("salesperson", x, "2021-Q2", "1000.00", 100.0),
        *(quota_set("salesperson", y, f"2021-0{m}", "100.00") for m in (4, 5, 6)),
        quota_set("team", team, "2021-Q2", "5000.00", 1000.0),
    ]
    reefer = ServiceLine(line_id="l1", origin="Shanghai", mode="cold_chain", monthly_tons=30.0)
    depot = ServiceLine(line_id="l2", origin="Ningbo", mode="warehousing", monthly_tons=10.0)
    customer = f"c-plan-{run}"
    commit = opportunity(
        customer,
        at,
        win_probability=0.75,
        amount="400.00",
        currency="CNY",
        expected_close_date="2021-05-10",
        lines=[reefer, depot],
    )
    best = opportunity(
        customer, at, amount="200.00", currency="CNY", expected_close_date="2021-06-30"
    )
    later = opportunity(
        customer, at, amount="999.00", currency="CNY", expected_close_date="2021-08-01"
    )
    unscheduled = opportunity(customer, at, amount="50.00", currency="CNY")
    moved = OpportunityUpdated(  # to y, at 250 and 0.5: best case now
        producer="followup",
        customer_id=customer,
        occurred_at=at + DAY,
        payload=OpportunityUpdatedPayload(
            opportunity_id=best.payload.opportunity_id,
            changed=["amount", "owner_id", "win_probability"],
            terms=OpportunityTerms(
                amount="250.00", currency="CNY", expected_close_date="2021-06-30", owner_id=y
            ),
            win_probability=0.5,
            override_reason="budget approved",
        ),
    )
    won = DealClosed(
        producer="followup",
        customer_id=customer,
        occurred_at=datetime(2021, 4, 15, tzinfo=UTC),
        payload=DealClosedPayload(
            deal_id=f"d-{run}",
            salesperson_id=x,
            outcome="won",
            amount="300.00",
            currency="CNY",
            lines=[reefer],
        ),
    )
    script = [*people, *quotas, *owned(customer, x, at, "Plan Ltd", 10, region=region)]
    script += [commit, best, later, unscheduled, moved, won]
    await applied(service, kafka, eventually, script)

    async with http(service, role="manager") as manager:
        by_person = (
            await manager.get(
                "/reports/forecast/period", params={"period": "2021-Q2", "region": region}
            )
        ).json()
        by_team = (
            await manager.get(
                "/reports/forecast/period",
                params={"period": "2021-Q2", "group": "team", "team": team, "region": region},
            )
        ).json()
        by_mode = (
            await manager.get(
                "/reports/forecast/period",
                params={"period": "2021-Q2", "by": "mode", "salesperson_id": x},
            )
        ).json()
        team_modes = (
            await manager.get(
                "/reports/forecast/period",
                params={"period": "2021-Q2", "by": "mode", "group": "salesperson", "team": team},
            )
        ).json()
        card = (
            await manager.get(
                "/reports/scorecard",
                params={"since": "2021-04-01T00:00:00Z", "until": "2021-07-01T00:00:00Z"},
            )
        ).json()
        bad = await manager.get("/reports/forecast/period", params={"period": "2021-Q5"})
        lines_filtered = await manager.get(
            "/reports/forecast/period", params={"period": "2021", "by": "mode", "region": region}
        )
        report = (await manager.get(f"/customers/{customer}")).json()
    seen, lanes = report["open_opportunities"], report["contracted_lanes"]
    assert [(lane["mode"], lane["origin"], lane["deal_id"]) for lane in lanes] == [
        ("cold_chain", "Shanghai", won.payload.deal_id)
    ]
    # The 360 lists the customer's open ones, the earliest to close first, with their terms now.
    assert [(o["opportunity_id"], o["amount"], o["owner_id"]) for o in seen] == [
        (commit.payload.opportunity_id, 400.0, None),
        (best.payload.opportunity_id, 250.0, y),
        (later.payload.opportunity_id, 999.0, None),
        (unscheduled.payload.opportunity_id, 50.0, None),
    ]
    assert [line["mode"] for line in seen[0]["lines"]] == ["cold_chain", "warehousing"]
    rows = {row["salesperson_id"]: row for row in by_person["rows"]}
    assert set(rows) == {x, y}
    mine = rows[x]
    # Closed won 300 (30 t); commit adds the 400 at 0.75 (40 t); nothing else of x's is in Q2.
    assert mine["revenue"]["CNY"] == {
        "closed_won": 300.0,
        "commit": 700.0,
        "best_case": 700.0,
        "pipeline": 700.0,
        "weighted": 600.0,
    }
    assert mine["quota"] == {
        "revenue": 1000.0,
        "currency": "CNY",
        "freight_tons": 100.0,
        "from": "set",
    }
    assert mine["attainment"]["closed_won"] == 0.3 and mine["gap"]["commit"] == 300.0
    assert mine["freight_tons"]["closed_won"] == 30.0 and mine["freight_tons"]["commit"] == 70.0
    assert (mine["deals_won"], mine["open_opportunities"], mine["unscheduled_opportunities"]) == (
        1,
        1,
        1,
    )
    theirs = rows[y]
    assert (
        theirs["revenue"]["CNY"]["best_case"] == 250.0 and theirs["revenue"]["CNY"]["commit"] == 0
    )
    assert theirs["quota"]["revenue"] == 300.0 and theirs["quota"]["from"] == "parts"
    [together] = by_team["rows"]
    assert together["team"] == team and together["revenue"]["CNY"]["pipeline"] == 950.0
    assert together["attainment"]["pipeline"] == 0.19
    modes = {row["mode"]: row for row in by_mode["rows"]}  # x's: not split per salesperson
    assert all("salesperson_id" not in row for row in by_mode["rows"])
    split = {(row["salesperson_id"], row["mode"]) for row in team_modes["rows"]}
    assert split == {(x, "cold_chain"), (x, "warehousing")}  # y's opportunity has no lines
    # The 400 split by the lines' tons (30 and 10); the won deal's 300 all on its one line.
    assert modes["cold_chain"]["revenue"]["CNY"]["pipeline"] == 600.0
    assert modes["warehousing"]["revenue"]["CNY"]["pipeline"] == 100.0
    [scored] = [row for row in card["rows"] if row["salesperson_id"] == x]
    assert scored["attainment"] == {"revenue": 0.3, "freight_tons": 0.3}  # its line's 30 t
    assert bad.status_code == 422
    assert lines_filtered.status_code == 422 and "not filtered by region" in lines_filtered.text
