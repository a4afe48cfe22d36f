"""Quotas and teams on real mongod and Kafka: versions kept, access, QuotaSet events, the lists."""

import asyncio
import json
import random
import uuid

import pytest
from crm_contracts import topic_of
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings

SALESPEOPLE_TOPIC = topic_of("QuotaSet")


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(CustomerSettings)))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def salesperson(client, **fields) -> str:
    salesperson_id = unique("sp-quota")
    answer = await client.post(
        "/salespeople",
        json={"salesperson_id": salesperson_id, "name": "Zhao", "capacity": 5, "seniority": 2}
        | fields,
    )
    assert answer.status_code == 201, answer.text
    return salesperson_id


async def test_a_manager_raises_a_quota_and_every_version_is_kept(service, http):
    async with http(service) as admin:
        seller = await salesperson(admin)
    url = f"/quotas/salesperson/{seller}/2027-Q1"
    async with http(service, role="manager") as manager:
        first = await manager.put(url, json={"revenue": "1000000.00", "currency": "CNY"})
        raised = await manager.put(
            url,
            json={"revenue": "1200000.00", "currency": "CNY", "freight_tons": 800, "reason": "up"},
            headers={"If-Match": first.headers["ETag"]},
        )
        cleared = await manager.put(url, json={"reason": "moved to key accounts", "version": 2})
        read = await manager.get(url)
    assert first.status_code == 201 and first.json()["version"] == 1
    assert first.headers["ETag"] == '"1"'
    assert raised.status_code == 200 and raised.json()["revenue"] == "1200000.00"
    assert cleared.status_code == 200
    quota = read.json()
    assert read.headers["ETag"] == '"3"' and quota["version"] == 3
    assert (quota["revenue"], quota["currency"], quota["freight_tons"]) == (None, None, None)
    assert [
        (v["version"], v["revenue"], v["freight_tons"], v["reason"], v["set_by"])
        for v in quota["history"]
    ] == [
        (1, "1000000.00", None, None, "u-manager"),
        (2, "1200000.00", 800.0, "up", "u-manager"),
        (3, None, None, "moved to key accounts", "u-manager"),
    ]


async def test_setting_a_quota_again_needs_the_version_read_and_a_stale_one_is_refused(
    service, http
):
    async with http(service) as admin:
        url = f"/quotas/salesperson/{await salesperson(admin)}/2027-03"
        await admin.put(url, json={"freight_tons": 100})
        await admin.put(url, json={"freight_tons": 120, "version": 1})
        unversioned = await admin.put(url, json={"freight_tons": 130})
        stale = await admin.put(url, json={"freight_tons": 140}, headers={"If-Match": '"1"'})
        kept = await admin.get(url)
    assert unversioned.status_code == 428 and unversioned.json()["detail"]["version"] == 2
    assert stale.status_code == 409 and stale.json()["detail"]["version"] == 2
    assert "changed since version 1: it is at 2" in stale.json()["detail"]["reason"]
    assert kept.json()["freight_tons"] == 120 and len(kept.json()["history"]) == 2


async def test_two_managers_setting_a_new_quota_at_once_make_one_version(service, http):
    async with http(service) as admin:
        url = f"/quotas/salesperson/{await salesperson(admin)}/2027"
        answers = await asyncio.gather(
            admin.put(url, json={"freight_tons": 1}), admin.put(url, json={"freight_tons": 2})
        )
        read = await admin.get(url)
    assert sorted(answer.status_code for answer in answers) == [201, 428]
    assert [v["version"] for v in read.json()["history"]] == [1]


async def test_a_salesperson_target_must_be_registered_a_team_needs_no_registration(service, http):
    team = unique("east")
    async with http(service, role="manager") as manager:
        unknown = await manager.put(
            f"/quotas/salesperson/{unique('nobody')}/2027", json={"freight_tons": 10}
        )
        team_quota = await manager.put(
            f"/quotas/team/{team}/2027", json={"revenue": 40000000, "currency": "CNY"}
        )
        never_set = await manager.get(f"/quotas/team/{team}/2028")
    assert unknown.status_code == 404 and "no salesperson" in unknown.text
    assert team_quota.status_code == 201, team_quota.text
    assert team_quota.json()["target"] == "team" and team_quota.json()["revenue"] == "40000000"
    assert never_set.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/quotas/team/east/2027-Q5", {}, "a year (2027), quarter (2027-Q1) or month (2027-03)"),
        ("/quotas/team/east/2027-13", {}, "a year (2027), quarter (2027-Q1) or month (2027-03)"),
        ("/quotas/region/east/2027", {}, "'salesperson' or 'team'"),
        ("/quotas/team/east%20one/2027", {}, "a team's code is 1 to 40 letters"),
        ("/quotas/team/east/2027", {"revenue": "100"}, "revenue and currency go together"),
        ("/quotas/team/east/2027", {"freight_tons": "5"}, "valid number"),
    ],
)
async def test_a_bad_period_target_or_body_is_a_422_with_the_reason(
    service, http, path, body, says
):
    async with http(service) as admin:
        answer = await admin.put(path, json=body)
        listed = await admin.get("/quotas", params={"period": "2027-Q5"})
    assert answer.status_code == 422 and says in answer.text, answer.text
    assert listed.status_code == 422


async def test_a_salesperson_reads_their_own_quotas_but_sets_none_and_reads_no_one_elses(
    service, http
):
    team = unique("west")
    async with http(service) as admin:
        me, other = await salesperson(admin), await salesperson(admin)
        for target, target_id in (("salesperson", me), ("salesperson", other), ("team", team)):
            set_one = await admin.put(f"/quotas/{target}/{target_id}/2027", json={"reason": "x"})
            assert set_one.status_code == 201, set_one.text
    async with http(service, role="salesperson", salesperson_id=me) as seller:
        own = await seller.get(f"/quotas/salesperson/{me}/2027")
        listed = await seller.get("/quotas")
        theirs = await seller.get(f"/quotas/salesperson/{other}/2027")
        teams = await seller.get(f"/quotas/team/{team}/2027")
        asked_for_theirs = await seller.get("/quotas", params={"target_id": other})
        set_own = await seller.put(f"/quotas/salesperson/{me}/2027", json={"version": 1})
    async with http(service, role="ops") as ops:
        read_by_ops = await ops.get(f"/quotas/salesperson/{other}/2027")
        set_by_ops = await ops.put(f"/quotas/team/{team}/2027", json={"version": 1})
    assert own.status_code == 200
    assert [(q["target"], q["target_id"]) for q in listed.json()["items"]] == [("salesperson", me)]
    assert [theirs.status_code, teams.status_code, asked_for_theirs.status_code] == [403] * 3
    assert set_own.status_code == 403 and set_by_ops.status_code == 403
    assert read_by_ops.status_code == 200


async def test_each_quota_set_is_announced_under_the_salesperson_or_the_team(service, http, kafka):
    team = unique("north")
    async with http(service, role="manager") as manager:
        seller = await salesperson(manager)
        url = f"/quotas/salesperson/{seller}/2027-Q2"
        await manager.put(url, json={"revenue": "500.00", "currency": "CNY"})
        await manager.put(url, json={"revenue": "600.00", "currency": "CNY", "version": 1})
        await manager.put(f"/quotas/team/{team}/2027", json={"freight_tons": 9000.5})
    mine = await kafka.read(
        SALESPEOPLE_TOPIC,
        kafka.where(customer_id=seller, event_type="QuotaSet"),
        expect=2,
        settle_s=2,
    )
    (teams,) = await kafka.read(
        SALESPEOPLE_TOPIC, kafka.where(customer_id=f"team:{team}", event_type="QuotaSet")
    )
    payloads = [json.loads(record.value)["payload"] for record in mine]
    assert [(p["version"], p["revenue"], p["set_by"]) for p in payloads] == [
        (1, "500.00", "u-manager"),
        (2, "600.00", "u-manager"),
    ]
    assert {record.key for record in mine} == {seller.encode()}
    assert teams.key == f"team:{team}".encode()
    assert json.loads(teams.value)["payload"] == {
        "target": "team",
        "target_id": team,
        "period": "2027",
        "revenue": None,
        "currency": None,
        "freight_tons": 9000.5,
        "version": 1,
        "set_by": "u-manager",
        "reason": None,
    }


async def test_current_quotas_are_listed_by_period_and_target_and_paged(service, http):
    year = str(random.randint(3000, 9998))  # a year no other test sets quotas for
    east, west = unique("a-east"), unique("b-west")
    async with http(service) as admin:
        seller = await salesperson(admin)
        for target, target_id, period in (
            ("team", east, year),
            ("team", east, f"{year}-Q1"),
            ("team", west, year),
            ("salesperson", seller, year),
        ):
            await admin.put(f"/quotas/{target}/{target_id}/{period}", json={"freight_tons": 1})
        of_year = (await admin.get("/quotas", params={"period": year})).json()
        teams_of_year = await admin.get("/quotas", params={"period": year, "target": "team"})
        of_east = await admin.get("/quotas", params={"target": "team", "target_id": east})
        pages, cursor = [], None
        while True:
            params = {"period": year, "limit": 1} | ({"cursor": cursor} if cursor else {})
            page = (await admin.get("/quotas", params=params)).json()
            pages.append([q["target_id"] for q in page["items"]])
            if not (cursor := page["next_cursor"]):
                break
    assert [q["target_id"] for q in of_year["items"]] == [seller, east, west]
    assert "history" not in of_year["items"][0]
    assert [q["target_id"] for q in teams_of_year.json()["items"]] == [east, west]
    assert [q["period"] for q in of_east.json()["items"]] == [year, f"{year}-Q1"]
    assert pages == [[seller], [east], [west]]


async def test_a_salespersons_team_is_kept_changed_cleared_and_announced(service, http, kafka):
    async with http(service, role="manager") as manager:
        seller = await salesperson(manager, team="east-1")
        moved = await manager.patch(f"/salespeople/{seller}", json={"team": "west-2"})
        listed = [
            p for p in (await manager.get("/salespeople")).json() if p["salesperson_id"] == seller
        ]
        left = await manager.patch(f"/salespeople/{seller}", json={"team": None})
        spaced = await manager.patch(f"/salespeople/{seller}", json={"team": "west 2"})
        no_capacity = await manager.patch(f"/salespeople/{seller}", json={"capacity": None})
    assert moved.status_code == 200 and moved.json()["team"] == "west-2"
    assert listed[0]["team"] == "west-2"
    assert left.status_code == 200 and left.json()["team"] is None
    assert spaced.status_code == 422 and no_capacity.status_code == 422
    records = await kafka.read(
        topic_of("SalespersonUpdated"), kafka.where(customer_id=seller), expect=3, settle_s=2
    )
    announced = [
        (json.loads(r.value)["event_type"], json.loads(r.value)["payload"]["team"]) for r in records
    ]
    assert announced == [
        ("SalespersonRegistered", "east-1"),
        ("SalespersonUpdated", "west-2"),
        ("SalespersonUpdated", None),
    ]
