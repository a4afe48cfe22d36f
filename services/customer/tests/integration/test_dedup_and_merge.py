"""Duplicates: the same credit code, likely duplicates, merge and unmerge."""

import json
import uuid

import pytest
from crm_contracts import topic_of
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(CustomerSettings)))


async def test_likely_duplicates_are_reported_on_create_and_on_demand(service, http):
    run = uuid.uuid4().hex[:6]
    async with http(service) as client:
        first = (
            await client.post(
                "/customers",
                json={
                    "name": f"Acme{run} Freight Co., Ltd.",
                    "website": f"https://www.acme{run}.com",
                },
            )
        ).json()
        second = (
            await client.post(
                "/customers", json={"name": f"ACME{run} FREIGHT", "website": f"acme{run}.COM"}
            )
        ).json()
        on_demand = (await client.get(f"/customers/{first['customer']['id']}/duplicates")).json()
    (duplicate,) = second["likely_duplicates"]
    assert duplicate["customer_id"] == first["customer"]["id"]
    assert any("name" in reason for reason in duplicate["reasons"])
    assert f"shared e-mail domain acme{run}.com" in duplicate["reasons"]
    assert [d["customer_id"] for d in on_demand] == [second["customer"]["id"]]


async def test_a_merge_moves_contacts_and_archives_the_duplicate_and_an_unmerge_gives_both_back(
    service, http, kafka
):
    async with http(service) as client:
        survivor = (await client.post("/customers", json={"name": "Survivor Ltd"})).json()[
            "customer"
        ]["id"]
        merged = (await client.post("/customers", json={"name": "Duplicate Ltd"})).json()[
            "customer"
        ]["id"]
        contact = (
            await client.post(f"/customers/{merged}/contacts", json={"name": "Zhao"})
        ).json()["contact_id"]
        merge = await client.post(
            f"/customers/{survivor}/merge", json={"merged_id": merged, "reason": "same firm"}
        )
        after_merge = {
            "merged": (await client.get(f"/customers/{merged}")).json(),
            "contacts": (await client.get(f"/customers/{survivor}/contacts")).json(),
        }
        restore_directly = await client.post(
            f"/customers/{merged}/restore", json={"reason": "x", "version": 2}
        )
        unmerge = await client.post(
            f"/customers/{survivor}/unmerge", json={"merged_id": merged, "reason": "sisters"}
        )
        again = await client.post(
            f"/customers/{survivor}/unmerge", json={"merged_id": merged, "reason": "twice"}
        )
        after_unmerge = {
            "merged": (await client.get(f"/customers/{merged}")).json(),
            "contacts": (await client.get(f"/customers/{merged}/contacts")).json(),
        }
    assert merge.status_code == 200 and merge.json()["moved_contact_ids"] == [contact]
    assert (
        after_merge["merged"]["status"] == "archived"
        and after_merge["merged"]["merged_into"] == survivor
    )
    assert [c["contact_id"] for c in after_merge["contacts"]] == [contact]
    assert restore_directly.status_code == 409 and "unmerge" in restore_directly.text
    assert unmerge.status_code == 200 and again.status_code == 404
    assert (
        after_unmerge["merged"]["status"] == "active"
        and after_unmerge["merged"]["merged_into"] is None
    )
    assert [c["contact_id"] for c in after_unmerge["contacts"]] == [contact]

    told = await kafka.read(
        topic_of("CustomersMerged"), kafka.where(customer_id=survivor), expect=4, settle_s=1
    )
    types = [json.loads(record.value)["event_type"] for record in told]
    assert types.count("CustomersMerged") == 1 and types.count("CustomersUnmerged") == 1


async def test_a_customer_cannot_be_merged_into_itself_or_an_archived_one(service, http):
    async with http(service) as client:
        one = (await client.post("/customers", json={"name": "One Ltd"})).json()["customer"]["id"]
        gone = (await client.post("/customers", json={"name": "Gone Ltd"})).json()["customer"]["id"]
        await client.post(f"/customers/{gone}/archive", json={"reason": "closed", "version": 1})
        itself = await client.post(
            f"/customers/{one}/merge", json={"merged_id": one, "reason": "x"}
        )
        archived = await client.post(
            f"/customers/{one}/merge", json={"merged_id": gone, "reason": "x"}
        )
    assert (itself.status_code, archived.status_code) == (409, 409)
