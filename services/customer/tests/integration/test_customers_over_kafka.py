from crm_contracts import topic_of
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings


async def test_a_created_customer_is_stored_and_announced_exactly_once(
    settings_for, running, http, kafka, credit_code
):
    service = await running(bootstrap(settings_for(CustomerSettings)))
    async with http(service) as client:
        created = await client.post(
            "/customers",
            json={"name": "Acme Freight", "region": "east", "credit_code": credit_code()},
        )
        assert created.status_code == 201, created.text
        customer = created.json()["customer"]
        assert (await client.get(f"/customers/{customer['id']}")).json()["name"] == "Acme Freight"

    arrived = await kafka.read(
        topic_of("CustomerCreated"),
        kafka.where(customer_id=customer["id"], event_type="CustomerCreated"),
        settle_s=2,
    )
    assert len(arrived) == 1
    assert arrived[0].key == customer["id"].encode()


async def test_the_same_credit_code_twice_is_a_409_naming_the_first_customer(
    settings_for, running, http, credit_code
):
    service = await running(bootstrap(settings_for(CustomerSettings)))
    code = credit_code()
    async with http(service) as client:
        first = (
            await client.post("/customers", json={"name": "First", "credit_code": code})
        ).json()["customer"]
        second = await client.post("/customers", json={"name": "Second", "credit_code": code})
    assert second.status_code == 409
    assert second.json()["detail"]["existing_customer_id"] == first["id"]


async def test_bad_input_is_a_422_with_the_reason_and_nothing_is_stored(
    settings_for, running, http
):
    service = await running(bootstrap(settings_for(CustomerSettings)))
    outbox_before = await service.store.db["outbox"].count_documents({})
    async with http(service) as client:
        refused = await client.post("/customers", json={"name": "", "nature": "pirate"})
        missing = await client.get("/customers/no-such-id")
    assert refused.status_code == 422
    assert {tuple(e["loc"]) for e in refused.json()["detail"]} == {
        ("body", "name"),
        ("body", "nature"),
    }
    assert missing.status_code == 404
    assert await service.store.db["outbox"].count_documents({}) == outbox_before


async def test_the_callers_correlation_id_follows_the_customer_into_its_event(
    settings_for, running, http, kafka
):
    service = await running(bootstrap(settings_for(CustomerSettings)))
    correlation_id = "6a8f7e2d-1c3b-4a5d-9e0f-2b4c6d8e0a12"
    async with http(service) as client:
        created = await client.post(
            "/customers", json={"name": "Traced Ltd"}, headers={"X-Correlation-ID": correlation_id}
        )
        generated = await client.post(
            "/customers", json={"name": "Untraced Ltd"}, headers={"X-Correlation-ID": "not-a-uuid"}
        )
    assert created.headers["X-Correlation-ID"] == correlation_id
    assert generated.headers["X-Correlation-ID"] != "not-a-uuid"
    customer_id = created.json()["customer"]["id"]
    arrived = await kafka.read(
        topic_of("CustomerCreated"),
        kafka.where(customer_id=customer_id, event_type="CustomerCreated"),
    )
    assert b'"correlation_id":"' + correlation_id.encode() in arrived[0].value
