import uuid
from datetime import UTC, datetime, timedelta

from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerScored,
    CustomerScoredPayload,
    VisitLogged,
    VisitLoggedPayload,
    topic_of,
)
from crm_reporting.bootstrap import bootstrap
from crm_reporting.settings import ReportingSettings

NOW = datetime.now(UTC)


def visit(customer_id: str) -> VisitLogged:
    return VisitLogged(
        producer="call-centre",
        customer_id=customer_id,
        payload=VisitLoggedPayload(
            followup_id="cc-1",
            salesperson_id="sp-1",
            channel="call",
            subject="hello",
            started_at=NOW - timedelta(minutes=5),
            ended_at=NOW,
        ),
    )


def scored(customer_id: str, score: int, at: datetime) -> CustomerScored:
    return CustomerScored(
        producer="scoring",
        customer_id=customer_id,
        occurred_at=at,
        payload=CustomerScoredPayload(
            score=score, tier="C", win_probability=0.2, reasons=["test"], rule_version="test"
        ),
    )


async def _equal(read, expected) -> bool:
    return await read() == expected


async def publish(kafka, *events):
    for event in events:
        await kafka.publish(topic_of(event.event_type), event.to_bytes(), key=event.key())


async def test_the_same_visit_twice_is_counted_once(settings_for, running, http, kafka, eventually):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    twice, then = visit(customer_id), visit(customer_id)
    await publish(kafka, twice, twice, then)

    async with http(service) as client:

        async def counted_and_shown():
            response = await client.get(f"/customers/{customer_id}")
            report = response.json() if response.status_code == 200 else {}
            shown = sorted(entry["event_id"] for entry in report.get("timeline", []))
            return ((report.get("counts") or {}).get("followups"), shown)

        expected = (2, sorted([str(twice.event_id), str(then.event_id)]))
        await eventually(lambda: _equal(counted_and_shown, expected))
        assert await counted_and_shown() == expected


async def test_a_visit_before_its_customer_is_kept_and_the_profile_fills_in_later(
    settings_for, running, http, kafka, eventually
):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    await publish(kafka, visit(customer_id))
    await publish(
        kafka,
        CustomerCreated(
            producer="customer",
            customer_id=customer_id,
            payload=CustomerCreatedPayload(name="Late Ltd"),
        ),
    )
    async with http(service) as client:

        async def complete():
            response = await client.get(f"/customers/{customer_id}")
            body = response.json() if response.status_code == 200 else {}
            return body.get("profile") and body["counts"]["followups"] == 1 and body

        report = await eventually(complete)
    assert report["profile"]["name"] == "Late Ltd"


async def test_a_late_older_score_does_not_replace_a_newer_one(
    settings_for, running, http, kafka, eventually
):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    newer, older = scored(customer_id, 60, NOW), scored(customer_id, 10, NOW - timedelta(hours=1))
    await publish(kafka, newer, older)
    await eventually(
        lambda: service.store.db["processed_events"].find_one({"_id": str(older.event_id)})
    )
    async with http(service) as client:
        report = (await client.get(f"/customers/{customer_id}")).json()
    assert report["latest_score"]["score"] == 60


async def test_the_timeline_pages_with_a_cursor(settings_for, running, http, kafka, eventually):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    visits = [visit(customer_id) for _ in range(5)]
    await publish(kafka, *visits)
    async with http(service) as client:

        async def all_five():
            response = await client.get(f"/customers/{customer_id}")
            return response.status_code == 200 and response.json()["counts"]["followups"] == 5

        await eventually(all_five)
        first = (await client.get(f"/customers/{customer_id}", params={"limit": 3})).json()
        second = (
            await client.get(
                f"/customers/{customer_id}", params={"limit": 3, "cursor": first["next_cursor"]}
            )
        ).json()
        bad = await client.get(f"/customers/{customer_id}", params={"cursor": "garbage"})
    ids = [e["event_id"] for e in first["timeline"] + second["timeline"]]
    assert (
        len(first["timeline"]) == 3
        and len(second["timeline"]) == 2
        and second["next_cursor"] is None
    )
    assert sorted(ids) == sorted(str(v.event_id) for v in visits)
    assert bad.status_code == 422


async def test_ops_read_every_report_and_a_salesperson_only_their_own(
    settings_for, running, http, kafka, eventually
):
    from crm_contracts import CustomerAssigned, CustomerAssignedPayload

    service = await running(bootstrap(settings_for(ReportingSettings)))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    assigned = CustomerAssigned(
        producer="customer",
        customer_id=customer_id,
        payload=CustomerAssignedPayload(
            owner_id="sp-own", trigger="created", reason="new customer", why="test"
        ),
    )
    await publish(
        kafka,
        CustomerCreated(
            producer="customer",
            customer_id=customer_id,
            payload=CustomerCreatedPayload(name="Owned Ltd"),
        ),
        assigned,
    )
    await eventually(
        lambda: service.store.db["processed_events"].find_one({"_id": str(assigned.event_id)})
    )
    url = f"/customers/{customer_id}"
    async with (
        http(service, role="ops") as ops,
        http(service, role="salesperson", salesperson_id="sp-own") as own,
        http(service, role="salesperson", salesperson_id="sp-other") as other,
        http(service, role=None) as nobody,
    ):
        answers = [await client.get(url) for client in (ops, own, other, nobody)]
    assert [answer.status_code for answer in answers] == [200, 200, 403, 401]
    assert answers[0].json()["owner_id"] == "sp-own"
