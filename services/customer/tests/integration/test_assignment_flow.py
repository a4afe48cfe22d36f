"""Assignment end to end inside the customer service: rule, queue, hand, tier-up."""

import json
import uuid

import pytest
from crm_contracts import CustomerScored, CustomerScoredPayload, topic_of
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(CustomerSettings)))


def region() -> str:
    return f"region-{uuid.uuid4().hex[:8]}"


async def register(client, salesperson_id: str, where: str, **fields) -> None:
    answer = await client.post(
        "/salespeople",
        json={
            "salesperson_id": salesperson_id,
            "name": salesperson_id,
            "regions": [where],
            "capacity": 5,
            "seniority": 2,
            **fields,
        },
    )
    assert answer.status_code == 201, answer.text


async def junior_owns_a_customer(manager) -> tuple[str, str]:
    """A junior and a senior salesperson in a new region; the junior wins the new customer on id."""
    where = region()
    await register(manager, f"{where}-a-junior", where, seniority=1)
    await register(manager, f"{where}-b-senior", where, seniority=3)
    created = await manager.post("/customers", json={"name": "Tiered Ltd", "region": where})
    return where, created.json()["customer"]["id"]


async def scored_into(kafka, customer_id: str, tier: str) -> None:
    scored = CustomerScored(
        producer="scoring",
        customer_id=customer_id,
        payload=CustomerScoredPayload(
            score={"A": 88, "D": 10}[tier],
            tier=tier,
            win_probability=0.5,
            reasons=["test"],
            rule_version="test",
        ),
    )
    await kafka.publish(topic_of("CustomerScored"), scored.to_bytes(), key=scored.key())


async def tier_is(manager, customer_id: str, tier: str):
    customer = (await manager.get(f"/customers/{customer_id}")).json()
    return customer["tier"] == tier and customer


async def test_with_nobody_eligible_a_customer_waits_and_is_assigned_when_someone_is(
    service, http, kafka
):
    where = region()
    async with http(service) as manager:
        await register(manager, f"{where}-inactive", where, active=False)
        created = (
            await manager.post("/customers", json={"name": "Waiting Ltd", "region": where})
        ).json()
        customer_id = created["customer"]["id"]
        queue = (await manager.get("/assignments/unassigned", params={"limit": 500})).json()
        await register(manager, f"{where}-new", where)
        assigned = (await manager.get(f"/customers/{customer_id}")).json()
        history = (await manager.get(f"/customers/{customer_id}/assignments")).json()["items"]
    assert created["assignment"]["owner_id"] is None
    inactive = {c["salesperson_id"]: c for c in created["assignment"]["candidates"]}[
        f"{where}-inactive"
    ]
    assert inactive == {
        "salesperson_id": f"{where}-inactive",
        "eligible": False,
        "reasons": ["inactive"],
    }
    assert customer_id in [c["id"] for c in queue["items"]]
    assert assigned["owner_id"] == f"{where}-new"
    assert [(h["trigger"], h["owner_id"]) for h in history] == [
        ("salesperson_available", f"{where}-new"),
        ("created", None),
    ]
    decisions = await kafka.read(
        topic_of("CustomerAssigned"),
        lambda r: (
            json.loads(r.value).get("customer_id") == customer_id
            and json.loads(r.value)["event_type"] == "CustomerAssigned"
        ),
        expect=2,
        settle_s=1,
    )
    assert [json.loads(r.value)["payload"]["owner_id"] for r in decisions] == [None, f"{where}-new"]


async def test_a_manager_reassigns_by_hand_with_a_reason_kept_in_the_history(service, http):
    where = region()
    async with http(service) as manager:
        await register(manager, f"{where}-a", where)
        await register(manager, f"{where}-b", where, capacity=1)
        await register(manager, f"{where}-off", where, active=False)
        customer_id = (
            await manager.post("/customers", json={"name": "Moved Ltd", "region": where})
        ).json()["customer"]["id"]
        owner = (await manager.get(f"/customers/{customer_id}")).json()["owner_id"]
        other = f"{where}-b" if owner == f"{where}-a" else f"{where}-a"
        moved = await manager.post(
            f"/customers/{customer_id}/assignment",
            json={"salesperson_id": other, "reason": "speaks the customer's dialect"},
        )
        to_inactive = await manager.post(
            f"/customers/{customer_id}/assignment",
            json={"salesperson_id": f"{where}-off", "reason": "x"},
        )
        history = (
            await manager.get(f"/customers/{customer_id}/assignments", params={"limit": 1})
        ).json()
        loads = {p["salesperson_id"]: p["load"] for p in (await manager.get("/salespeople")).json()}
    assert moved.status_code == 200 and moved.json()["assigned_by"] == "u-admin"
    assert to_inactive.status_code == 409 and "inactive" in to_inactive.text
    assert (
        history["items"][0]["reason"] == "speaks the customer's dialect" and history["next_cursor"]
    )
    assert loads[other] == 1 and loads[owner] == 0


async def test_a_higher_tier_moves_the_customer_to_a_more_senior_salesperson(
    service, http, kafka, eventually
):
    async with http(service) as manager:
        where, customer_id = await junior_owns_a_customer(manager)
        assert (await manager.get(f"/customers/{customer_id}")).json()[
            "owner_id"
        ] == f"{where}-a-junior"
        await scored_into(kafka, customer_id, "A")

        async def moved():
            customer = (await manager.get(f"/customers/{customer_id}")).json()
            return customer["owner_id"] == f"{where}-b-senior" and customer

        customer = await eventually(moved)
        (latest, *_) = (await manager.get(f"/customers/{customer_id}/assignments")).json()["items"]
    assert customer["tier"] == "A"
    assert latest["trigger"] == "tier_up" and latest["reason"] == "tier rose from none to A"
    assert latest["previous_owner_id"] == f"{where}-a-junior"


async def test_tier_up_reassignment_can_be_switched_off(
    settings_for, running, http, kafka, eventually
):
    service = await running(bootstrap(settings_for(CustomerSettings, reassign_on_tier_up=False)))
    async with http(service) as manager:
        where, customer_id = await junior_owns_a_customer(manager)
        await scored_into(kafka, customer_id, "A")
        customer = await eventually(lambda: tier_is(manager, customer_id, "A"))
    assert customer["owner_id"] == f"{where}-a-junior"


async def test_a_first_low_tier_moves_nobody(service, http, kafka, eventually):
    async with http(service) as manager:
        where, customer_id = await junior_owns_a_customer(manager)
        await scored_into(kafka, customer_id, "D")
        customer = await eventually(lambda: tier_is(manager, customer_id, "D"))
    assert customer["owner_id"] == f"{where}-a-junior"
