"""The follow-up service on real Kafka and mongod: what it records, checks and emits."""

import json
import uuid
from datetime import UTC, datetime

from crm_contracts import CustomerCreated, CustomerCreatedPayload, topic_of
from crm_followup.bootstrap import bootstrap
from crm_followup.settings import FollowupSettings

START, END = "2026-11-27T09:00:00Z", "2026-11-27T09:20:00Z"


async def test_a_followup_is_recorded_changed_revoked_and_announced_once_each(
    service, known_customer, visit, http, kafka
):
    customer_id = await known_customer()
    async with http(service) as client:
        logged = await client.post(
            "/followups",
            json=visit(customer_id, next_step="send quote", next_step_due="2026-11-30"),
        )
        followup_id = logged.json()["id"]
        stale = await client.patch(
            f"/followups/{followup_id}", json={"outcome": "x"}, headers={"If-Match": '"7"'}
        )
        changed = await client.patch(
            f"/followups/{followup_id}", json={"outcome": "quote sent"}, headers={"If-Match": '"1"'}
        )
        backwards = await client.patch(
            f"/followups/{followup_id}", json={"ended_at": "2026-11-27T08:00:00Z", "version": 2}
        )
        revoked = await client.post(
            f"/followups/{followup_id}/revoke", json={"reason": "entered twice"}
        )
        hidden = (await client.get("/followups", params={"customer_id": customer_id})).json()[
            "items"
        ]
    assert logged.status_code == 201 and stale.status_code == 409
    assert changed.json()["version"] == 2 and changed.json()["outcome"] == "quote sent"
    assert backwards.status_code == 422 and "ended_at is before started_at" in backwards.text
    assert revoked.json()["status"] == "revoked" and hidden == []
    records = await kafka.read(
        topic_of("VisitLogged"), kafka.where(customer_id=customer_id), expect=3, settle_s=1
    )
    assert [json.loads(r.value)["event_type"] for r in records] == [
        "VisitLogged",
        "FollowupUpdated",
        "FollowupRevoked",
    ]


async def test_unknown_archived_and_other_peoples_customers_are_refused_clearly(
    service, known_customer, visit, http
):
    mine, theirs = await known_customer("sp-1"), await known_customer("sp-2")
    async with http(service, role="salesperson", salesperson_id="sp-1") as salesperson:
        unknown = await salesperson.post("/followups", json=visit("c-never-seen"))
        other = await salesperson.post("/followups", json=visit(theirs))
        own = await salesperson.post("/followups", json=visit(mine))
    async with http(service, role=None) as anonymous:
        without_token = await anonymous.post("/followups", json=visit(mine))
    assert unknown.status_code == 422 and "not known here" in unknown.text
    assert (other.status_code, own.status_code, without_token.status_code) == (403, 201, 401)


async def test_stages_move_as_allowed_and_a_refused_move_says_why(service, known_customer, http):
    customer_id = await known_customer()
    async with http(service) as client:
        opened = (await client.post(f"/customers/{customer_id}/opportunities")).json()
        second = await client.post(f"/customers/{customer_id}/opportunities")
        too_early = await client.post(
            "/deals",
            json={
                "customer_id": customer_id,
                "opportunity_id": opened["id"],
                "outcome": "won",
                "amount": "10",
                "currency": "CNY",
            },
        )
        moved = await client.post(
            f"/opportunities/{opened['id']}/stage", json={"to_stage": "proposal"}
        )
        lost = await client.post(
            "/deals",
            json={
                "customer_id": customer_id,
                "opportunity_id": opened["id"],
                "outcome": "lost",
                "lost_reason": "price",
                "competitor": "SF Express",
            },
        )
        bad_reason = await client.post(
            "/deals",
            json={"customer_id": customer_id, "outcome": "lost", "lost_reason": "bad vibes"},
        )
        after_loss = await client.post(
            f"/opportunities/{opened['id']}/stage", json={"to_stage": "negotiation"}
        )
        reopened = await client.post(f"/opportunities/{opened['id']}/reopen")
        history = (await client.get(f"/opportunities/{opened['id']}")).json()
    assert opened["stage"] == "qualified" and second.status_code == 201
    assert too_early.status_code == 409 and "won only from proposal, negotiation" in too_early.text
    assert moved.json()["stage"] == "proposal" and moved.json()["win_probability"] == 0.5
    assert lost.status_code == 201 and lost.json()["opportunity_id"] == opened["id"]
    assert bad_reason.status_code == 422 and "lost_reason must be one of" in bad_reason.text
    assert after_loss.status_code == 409 and "final stage" in after_loss.text
    assert reopened.status_code == 201 and reopened.json()["reopened_from"] == opened["id"]
    assert [h["stage"] for h in history["history"]] == ["qualified", "proposal", "lost"]
    assert set(history["seconds_in_stages"]) == {"qualified", "proposal", "lost"}


async def test_a_proposal_is_revised_with_each_revision_kept_then_accepted(
    service, known_customer, http, kafka
):
    customer_id = await known_customer()
    async with http(service) as client:
        written = (
            await client.post(
                "/proposals",
                json={
                    "customer_id": customer_id,
                    "needs": ["weekly lane"],
                    "solution": "two trucks a week",
                    "price": "100000.00",
                    "currency": "CNY",
                },
            )
        ).json()
        url = f"/proposals/{written['id']}"
        revised = await client.post(
            f"{url}/revisions", json={"price": "90000.00", "note": "after talk 2"}
        )
        empty = await client.post(
            f"{url}/revisions", json={"price": "90000.00", "note": "nothing new"}
        )
        accepted = await client.post(f"{url}/accept", json={})
        late = await client.post(
            f"{url}/revisions", json={"solution": "three trucks", "note": "too late"}
        )
    assert [r["revision"] for r in revised.json()["revisions"]] == [1, 2]
    assert revised.json()["revisions"][1]["price"] == "90000.00"
    assert empty.status_code == 409 and accepted.json()["status"] == "accepted"
    assert late.status_code == 409 and "accepted" in late.text
    records = await kafka.read(
        topic_of("ProposalCreated"), kafka.where(customer_id=customer_id), expect=3
    )
    assert [json.loads(r.value)["event_type"] for r in records] == [
        "ProposalCreated",
        "ProposalRevised",
        "ProposalAccepted",
    ]


async def test_an_external_visit_for_a_customer_not_seen_yet_waits_and_is_applied_when_it_appears(
    service, http, kafka, eventually
):
    from crm_contracts import VisitLogged, VisitLoggedPayload

    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    early = VisitLogged(
        producer="call-centre",
        customer_id=customer_id,
        payload=VisitLoggedPayload(
            followup_id=f"cc-{uuid.uuid4().hex[:6]}",
            salesperson_id="sp-1",
            channel="call",
            subject="inbound call",
            started_at=START,
            ended_at=END,
        ),
    )
    await kafka.publish(topic_of("VisitLogged"), early.to_bytes(), key=early.key())
    await eventually(
        lambda: service.store.db["parked_events"].find_one({"_id": str(early.event_id)})
    )
    created = CustomerCreated(
        producer="customer",
        customer_id=customer_id,
        payload=CustomerCreatedPayload(name="Late Ltd", owner_id="sp-1"),
    )
    await kafka.publish(topic_of("CustomerCreated"), created.to_bytes(), key=created.key())
    stored = await eventually(
        lambda: service.store.db["followups"].find_one({"_id": early.payload.followup_id})
    )
    assert stored["source"] == "call-centre" and stored["customer_id"] == customer_id
    assert await service.store.db["parked_events"].find_one({"_id": str(early.event_id)}) is None


async def test_a_parked_event_whose_customer_never_comes_is_dead_lettered_with_the_reason(
    settings_for, running, kafka, eventually
):
    from crm_contracts import DealClosed, DealClosedPayload, dead_letter_topic

    service = await running(
        bootstrap(settings_for(FollowupSettings, park_timeout_s=0.5, park_sweep_interval_s=0.2))
    )
    orphan = DealClosed(
        producer="erp",
        customer_id=f"c-{uuid.uuid4().hex[:8]}",
        payload=DealClosedPayload(deal_id="erp-1", outcome="lost", lost_reason="price"),
    )
    await kafka.publish(topic_of("DealClosed"), orphan.to_bytes(), key=orphan.key())
    dead = await kafka.read(
        dead_letter_topic(topic_of("DealClosed")), kafka.where(event_id=orphan.event_id)
    )
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert (
        headers["dlt.reason"] == "customer-unknown" and orphan.customer_id in headers["dlt.error"]
    )

    async def unparked():
        return (
            await service.store.db["parked_events"].count_documents({"_id": str(orphan.event_id)})
            == 0
        )

    assert await eventually(unparked)


async def test_a_parked_record_that_no_longer_parses_is_dead_lettered_and_the_release_goes_on(
    service, kafka, eventually
):
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    # Parked under an older schema that this version no longer accepts.
    await service.store.db["parked_events"].insert_one(
        {
            "_id": str(uuid.uuid4()),
            "topic": topic_of("VisitLogged"),
            "partition": 0,
            "offset": 10**9,
            "key": customer_id.encode(),
            "value": json.dumps({"event_type": "VisitLogged", "customer_id": customer_id}).encode(),
            "customer_id": customer_id,
            "event_type": "VisitLogged",
            "parked_at": datetime.now(UTC),
        }
    )
    created = CustomerCreated(
        producer="customer",
        customer_id=customer_id,
        payload=CustomerCreatedPayload(name="Schema Moved Ltd", owner_id="sp-1"),
    )
    await kafka.publish(topic_of("CustomerCreated"), created.to_bytes(), key=created.key())

    async def settled():
        db = service.store.db
        return (
            await db["processed_events"].count_documents({"_id": str(created.event_id)}),
            await db["parked_events"].count_documents({"customer_id": customer_id}),
            await db["dead_letters"].count_documents(
                {"_id": f"{topic_of('VisitLogged')}:0:{10**9}", "reason": "schema-invalid"}
            ),
        ) == (1, 0, 1) or None

    assert await eventually(settled)
