"""Customer master data on real mongod and Kafka: versions, archive, browse, events exactly once."""

import json
import uuid

import pytest
from crm_contracts import topic_of
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(CustomerSettings)))


async def create(client, **fields) -> dict:
    response = await client.post(
        "/customers", json={"name": f"Master Data {uuid.uuid4().hex[:6]}", **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()["customer"]


async def test_a_stale_update_is_a_409_and_a_missing_version_a_428(service, http):
    async with http(service) as client:
        customer = await create(client, region="east")
        read = await client.get(f"/customers/{customer['id']}")
        assert read.headers["ETag"] == '"1"'
        first = await client.patch(
            f"/customers/{customer['id']}",
            json={"address": "1 Bund Road"},
            headers={"If-Match": read.headers["ETag"]},
        )
        stale = await client.patch(
            f"/customers/{customer['id']}",
            json={"address": "2 Bund Road"},
            headers={"If-Match": '"1"'},
        )
        unversioned = await client.patch(
            f"/customers/{customer['id']}", json={"address": "3 Bund Road"}
        )
        by_field = await client.patch(
            f"/customers/{customer['id']}", json={"address": "4 Bund Road", "version": 2}
        )
    assert first.status_code == 200 and first.json()["version"] == 2
    assert stale.status_code == 409 and stale.json()["detail"]["version"] == 2
    assert unversioned.status_code == 428
    assert by_field.status_code == 200 and by_field.json()["address"] == "4 Bund Road"


async def test_an_archived_customer_is_kept_hidden_from_lists_and_can_be_restored(service, http):
    async with http(service) as client:
        customer = await create(client, region="archive-test")
        archived = await client.post(
            f"/customers/{customer['id']}/archive", json={"reason": "closed", "version": 1}
        )
        update = await client.patch(
            f"/customers/{customer['id']}", json={"address": "x", "version": 2}
        )
        active_list = (await client.get("/customers", params={"region": "archive-test"})).json()[
            "items"
        ]
        archived_list = (
            await client.get("/customers", params={"region": "archive-test", "archived": True})
        ).json()
        restored = await client.post(
            f"/customers/{customer['id']}/restore",
            json={"reason": "reopened"},
            headers={"If-Match": '"2"'},
        )
    assert archived.json()["status"] == "archived"
    assert update.status_code == 409 and update.json()["detail"]["status"] == "archived"
    assert customer["id"] not in [c["id"] for c in active_list]
    assert customer["id"] in [c["id"] for c in archived_list["items"]]
    assert (
        restored.status_code == 200
        and restored.json()["status"] == "active"
        and restored.json()["version"] == 3
    )


async def test_browse_filters_sorts_and_pages_with_a_cursor(service, http):
    region = f"browse-{uuid.uuid4().hex[:6]}"
    async with http(service) as client:
        for name in ("Delta", "alpha", "Charlie", "bravo", "Echo"):
            await create(client, name=f"{name} Freight", region=region, industry="retail")
        await create(client, name="Other Freight", region=region, industry="mining")
        pages, cursor = [], None
        while True:
            params = {
                "region": region,
                "industry": "retail",
                "sort": "name",
                "limit": 2,
                **({"cursor": cursor} if cursor else {}),
            }
            page = (await client.get("/customers", params=params)).json()
            pages.append([c["name"] for c in page["items"]])
            if not (cursor := page["next_cursor"]):
                break
        searched = (await client.get("/customers", params={"region": region, "q": "CHAR"})).json()[
            "items"
        ]
    assert pages == [
        ["Charlie Freight", "Delta Freight"],
        ["Echo Freight", "alpha Freight"],
        ["bravo Freight"],
    ]
    assert [c["name"] for c in searched] == ["Charlie Freight"]


async def test_bad_filters_and_bodies_are_refused_with_reasons(service, http):
    async with http(service) as client:
        bad_sort = await client.get("/customers", params={"sort": "revenue"})
        unknown_field = await client.post("/customers", json={"name": "X", "colour": "red"})
        bad_code = await client.post(
            "/customers", json={"name": "X", "credit_code": "91350100M000100Y44"}
        )
    assert bad_sort.status_code == 422
    assert unknown_field.status_code == 422 and unknown_field.json()["detail"][0]["loc"] == [
        "body",
        "colour",
    ]
    assert bad_code.status_code == 422 and "expected 3" in bad_code.json()["detail"][0]["msg"]


async def test_contacts_competitors_and_financials_fill_in_the_record(service, http):
    async with http(service) as client:
        customer = await create(client)
        url = f"/customers/{customer['id']}"
        contact = (
            await client.post(
                f"{url}/contacts",
                json={
                    "name": "Wang Lei",
                    "title": "Logistics Director",
                    "phone": "+86 138 0013 8000",
                    "email": "wang@example-freight.cn",
                    "decision_influence": "decision_maker",
                    "important_dates": [{"label": "birthday", "date": "1979-04-12"}],
                    "hobbies": ["go"],
                },
            )
        ).json()
        changed = await client.patch(
            f"{url}/contacts/{contact['contact_id']}", json={"title": "VP"}
        )
        competitor = await client.post(
            f"{url}/competitors", json={"name": "SF Express", "share": 0.6}
        )
        bad_share = await client.post(f"{url}/competitors", json={"name": "X", "share": 1.5})
        financials = await client.put(
            f"{url}/financials",
            json={
                "statements": [
                    {
                        "year": 2025,
                        "current_assets": "150",
                        "current_liabilities": "100",
                        "revenue": "1000",
                        "net_profit": "50",
                    }
                ]
            },
        )
        removed = await client.delete(f"{url}/contacts/{contact['contact_id']}")
        shown = (await client.get(url)).json()
        contacts = (await client.get(f"{url}/contacts")).json()
    assert changed.json()["title"] == "VP" and changed.json()["phone"] == "+86 138 0013 8000"
    assert competitor.status_code == 201 and bad_share.status_code == 422
    assert financials.json()["ratios"][0]["current_ratio"] == 1.5
    assert removed.status_code == 204 and contacts == []
    assert "financials" not in shown["completeness"]["useful"]["missing"]
    assert "contacts" in shown["completeness"]["useful"]["missing"]


async def test_every_change_arrives_on_kafka_exactly_once(service, http, kafka):
    async with http(service) as client:
        customer = await create(client)
        url = f"/customers/{customer['id']}"
        await client.patch(url, json={"address": "1 Bund Road", "version": 1})
        contact = (await client.post(f"{url}/contacts", json={"name": "Li"})).json()
        await client.patch(f"{url}/contacts/{contact['contact_id']}", json={"title": "CFO"})
        await client.delete(f"{url}/contacts/{contact['contact_id']}")
        await client.post(f"{url}/competitors", json={"name": "Deppon"})
        await client.put(
            f"{url}/financials", json={"statements": [{"year": 2025, "revenue": "10"}]}
        )
        await client.post(f"{url}/archive", json={"reason": "test", "version": 2})
        await client.post(f"{url}/restore", json={"reason": "test", "version": 3})

    expected = [
        "CustomerCreated",
        "CustomerAssigned",
        "CustomerUpdated",
        "ContactAdded",
        "ContactUpdated",
        "ContactRemoved",
        "CompetitorRecorded",
        "FinancialsRecorded",
        "CustomerArchived",
        "CustomerRestored",
    ]
    records = await kafka.read(
        topic_of("CustomerCreated"),
        kafka.where(customer_id=customer["id"]),
        expect=len(expected),
        settle_s=2,
    )
    types = [json.loads(record.value)["event_type"] for record in records]
    assert types == expected
    assert {record.key for record in records} == {customer["id"].encode()}


async def test_a_customer_cannot_lose_its_name_to_a_null_but_may_lose_its_website(service, http):
    async with http(service) as client:
        customer = await create(client, website="example.cn")
        url = f"/customers/{customer['id']}"
        nameless = await client.patch(url, json={"name": None, "version": 1})
        no_website = await client.patch(url, json={"website": None, "version": 1})
    assert nameless.status_code == 422 and "name may not be null" in nameless.text
    assert no_website.status_code == 200
    assert no_website.json()["name"] == customer["name"] and no_website.json()["website"] is None


async def test_contacts_and_salespeople_refuse_null_where_they_cannot_lack_it(service, http):
    async with http(service) as client:
        customer = await create(client)
        url = f"/customers/{customer['id']}/contacts"
        contact = (await client.post(url, json={"name": "Li", "title": "CFO"})).json()
        nameless = await client.patch(f"{url}/{contact['contact_id']}", json={"name": None})
        untitled = await client.patch(f"{url}/{contact['contact_id']}", json={"title": None})
        salesperson = await client.post(
            "/salespeople", json={"name": "Zhao", "capacity": 3, "seniority": 1}
        )
        no_capacity = await client.patch(
            f"/salespeople/{salesperson.json()['salesperson_id']}", json={"capacity": None}
        )
    assert nameless.status_code == 422 and "name may not be null" in nameless.text
    assert untitled.status_code == 200 and untitled.json()["title"] is None
    assert no_capacity.status_code == 422 and "capacity may not be null" in no_capacity.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", '{"name": "Infinite Freight", "monthly_freight_volume_tons": Infinity}'),
        ("/{id}/financials", '{"statements": [{"year": 2025, "revenue": NaN}]}'),
        ("/{id}/competitors", '{"name": "SF", "share": NaN}'),
    ],
)
async def test_infinity_and_nan_are_not_numbers_a_customer_can_have(service, http, path, body):
    async with http(service) as client:
        customer = await create(client)
        method = "PUT" if path.endswith("financials") else "POST"
        answer = await client.request(
            method,
            "/customers" + path.format(id=customer["id"]),
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
