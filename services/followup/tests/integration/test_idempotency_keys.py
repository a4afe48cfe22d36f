"""Over HTTP on real mongod: a write sent again with its Idempotency-Key (its first answer lost to
a timeout or a killed instance) gets the first answer and is applied once, events included."""

import asyncio
import uuid

from crm_runtime.idempotency import REQUESTS
from crm_runtime.store import OUTBOX

WON = {"outcome": "won", "amount": "1000.00", "currency": "CNY"}


async def followups_of(service, customer_id: str) -> int:
    return await service.store.db["followups"].count_documents({"customer_id": customer_id})


async def events_of(service, customer_id: str) -> int:
    return await service.store.db[OUTBOX].count_documents({"key": customer_id.encode()})


async def test_a_write_sent_again_with_its_key_answers_the_same_and_applies_once(
    service, known_customer, visit, http
):
    customer_id = await known_customer("sp-1")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with http(service, role="manager") as manager:
        first = await manager.post("/followups", json=visit(customer_id), headers=key)
        # Sent again to another instance, as a client behind a load balancer does.
        elsewhere = "http://another-instance:8002/followups"
        again = await manager.post(elsewhere, json=visit(customer_id), headers=key)
        deal = {"customer_id": customer_id, "salesperson_id": "sp-1", **WON}
        deal_key = {"Idempotency-Key": str(uuid.uuid4())}
        closed = [await manager.post("/deals", json=deal, headers=deal_key) for _ in range(3)]
        unkeyed = await manager.post("/followups", json=visit(customer_id))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert [answer.status_code for answer in closed] == [201, 201, 201]
    assert len({answer.json()["id"] for answer in closed}) == 1
    assert unkeyed.status_code == 201 and unkeyed.json()["id"] != first.json()["id"]
    assert await followups_of(service, customer_id) == 2
    # VisitLogged twice (keyed once, unkeyed once) and DealClosed once.
    assert await events_of(service, customer_id) == 3


async def test_the_same_key_with_another_request_or_caller_is_refused(
    service, known_customer, visit, http
):
    customer_id = await known_customer("sp-1")
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    async with http(service, role="manager") as manager:
        first = await manager.post("/followups", json=visit(customer_id), headers=key)
        other_body = await manager.post(
            "/followups", json=visit(customer_id, subject="another"), headers=key
        )
    async with http(service, role="admin") as admin:
        other_caller = await admin.post("/followups", json=visit(customer_id), headers=key)
    assert first.status_code == 201
    for answer in (other_body, other_caller):
        assert answer.status_code == 422, answer.text
        [reason] = answer.json()["detail"]
        assert reason["loc"] == ["header", "Idempotency-Key"]
        assert "used for another request" in reason["msg"]
    assert await followups_of(service, customer_id) == 1


async def test_a_key_sent_twice_at_once_is_applied_once(service, known_customer, visit, http):
    customer_id = await known_customer("sp-1")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with http(service, role="manager") as manager:
        answers = await asyncio.gather(
            *[manager.post("/followups", json=visit(customer_id), headers=key) for _ in range(4)]
        )
    assert [answer.status_code for answer in answers] == [201] * 4
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await followups_of(service, customer_id) == 1
    assert await service.store.db[REQUESTS].count_documents({"_id": key["Idempotency-Key"]})


async def test_a_malformed_key_is_a_422_and_nothing_is_written(
    service, known_customer, visit, http
):
    customer_id = await known_customer("sp-1")
    async with http(service, role="manager") as manager:
        spaced = await manager.post(
            "/followups", json=visit(customer_id), headers={"Idempotency-Key": "a key"}
        )
        long = await manager.post(
            "/followups", json=visit(customer_id), headers={"Idempotency-Key": "k" * 201}
        )
    assert (spaced.status_code, long.status_code) == (422, 422)
    assert await followups_of(service, customer_id) == 0
