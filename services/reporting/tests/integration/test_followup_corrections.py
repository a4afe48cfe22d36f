"""A corrected follow-up (FollowupUpdated) counts as corrected: in the scorecard, in dormancy and
in the customer's timeline, whatever order its events arrive in."""

import uuid
from datetime import UTC, datetime, timedelta

from crm_contracts import (
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomerCreated,
    CustomerCreatedPayload,
    FollowupUpdated,
    FollowupUpdatedPayload,
    VisitLogged,
    VisitLoggedPayload,
    topic_of,
)
from crm_reporting import counters
from crm_reporting.bootstrap import bootstrap
from crm_reporting.settings import ReportingSettings

DAY = timedelta(days=1)
START = datetime(2020, 6, 1, tzinfo=UTC)


def customer(customer_id: str, region: str) -> list:
    return [
        CustomerCreated(
            producer="customer",
            customer_id=customer_id,
            occurred_at=START,
            payload=CustomerCreatedPayload(name="Corrected Ltd", region=region),
        ),
        CustomerAssigned(
            producer="customer",
            customer_id=customer_id,
            occurred_at=START,
            payload=CustomerAssignedPayload(
                owner_id="sp-x", trigger="created", reason="new customer", why="test"
            ),
        ),
    ]


def followup(followup_id: str, salesperson: str, channel: str, at: datetime) -> VisitLoggedPayload:
    return VisitLoggedPayload(
        followup_id=followup_id,
        salesperson_id=salesperson,
        channel=channel,
        subject="s",
        started_at=at,
        ended_at=at + timedelta(hours=1),
    )


def logged_then_corrected(customer_id: str) -> tuple[VisitLogged, FollowupUpdated]:
    followup_id = f"f-{uuid.uuid4().hex[:8]}"
    logged = VisitLogged(
        producer="followup",
        customer_id=customer_id,
        occurred_at=START + DAY,
        payload=followup(followup_id, "sp-x", "call", START + DAY),
    )
    corrected = FollowupUpdated(
        producer="followup",
        customer_id=customer_id,
        occurred_at=START + 41 * DAY,
        payload=FollowupUpdatedPayload(
            followup_id=followup_id,
            version=2,
            changed=["salesperson_id", "channel", "started_at", "ended_at"],
            followup=followup(followup_id, "sp-y", "visit", START + 40 * DAY),
        ),
    )
    return logged, corrected


async def test_a_corrected_followup_counts_with_its_new_date_channel_and_salesperson(
    settings_for, running, http, kafka, eventually
):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    region = f"corrected-{uuid.uuid4().hex[:6]}"
    in_order, reversed_ = f"c-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    logged, corrected = logged_then_corrected(in_order)
    late_logged, early_corrected = logged_then_corrected(reversed_)
    events = [
        *customer(in_order, region),
        *customer(reversed_, region),
        logged,
        corrected,
        early_corrected,  # the correction overtakes the follow-up it corrects
        late_logged,
    ]
    for event in events:
        await kafka.publish(topic_of(event.event_type), event.to_bytes(), key=event.key())
    ids = [str(event.event_id) for event in events]

    async def all_applied():
        inbox = service.store.db["processed_events"]
        applied = await inbox.count_documents({"_id": {"$in": ids}}) == len(ids)
        return applied and await counters.pending(service.store) == 0  # and counted

    await eventually(all_applied)
    # 99 days after the logged date, 60 after the corrected one: dormant only if uncorrected.
    period = {"since": START.isoformat(), "until": (START + 100 * DAY).isoformat()}
    async with http(service, role="manager") as manager:
        scorecard = (
            await manager.get(
                "/reports/scorecard", params={**period, "region": region, "dormant_after_days": 90}
            )
        ).json()
        timelines = [
            (await manager.get(f"/customers/{customer_id}")).json()["timeline"]
            for customer_id in (in_order, reversed_)
        ]
    rows = {row["salesperson_id"]: row for row in scorecard["rows"]}
    assert rows["sp-y"]["followups_by_channel"] == {"visit": 2}
    assert rows["sp-x"]["followups"] == 0
    assert rows["sp-x"]["customers_lost_or_dormant"] == 0
    for timeline in timelines:
        [entry] = timeline
        assert entry["details"]["channel"] == "visit"
        assert entry["details"]["salesperson_id"] == "sp-y"
        assert datetime.fromisoformat(entry["at"]) == START + 40 * DAY
