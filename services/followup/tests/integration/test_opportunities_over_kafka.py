"""Several opportunities per customer on real Kafka and mongod: terms and service lines, the
owner's probability override, proposals that price lines, deals that close one opportunity, a
database kept before any of it, and deals the ERP closes."""

import json
import uuid
from datetime import UTC, datetime

from crm_contracts import DealClosed, DealClosedPayload, ServiceLine, parse_event, topic_of
from crm_followup import adapters

REEFER = {
    "line_id": "l1",
    "origin": "Shanghai",
    "destination": "Chengdu",
    "mode": "cold_chain",
    "monthly_tons": 120.0,
    "monthly_shipments": 16,
    "rate": "5200.00",
    "rate_basis": "shipment",
}
WAREHOUSE = {"line_id": "l2", "origin": "Chengdu", "mode": "warehousing", "monthly_tons": 300.0}
AS_STORED = [ServiceLine(**line).model_dump(mode="json") for line in (REEFER, WAREHOUSE)]
TERMS = {
    "title": "Reefer lane and a warehouse",
    "amount": "1200000.00",
    "currency": "CNY",
    "expected_close_date": "2027-03-31",
    "lines": [REEFER, WAREHOUSE],
}


async def test_two_opportunities_of_one_customer_move_and_close_apart(
    service, known_customer, http, kafka
):
    customer_id = await known_customer()
    async with http(service) as client:
        lane = (await client.post(f"/customers/{customer_id}/opportunities", json=TERMS)).json()
        customs = await client.post(
            f"/customers/{customer_id}/opportunities",
            json={"lines": [{"line_id": "c1", "origin": "Shanghai", "mode": "customs"}]},
        )
        bare = await client.post(f"/customers/{customer_id}/opportunities")
        await client.post(f"/opportunities/{lane['id']}/stage", json={"to_stage": "proposal"})
        unnamed = await client.post(
            "/deals",
            json={"customer_id": customer_id, "outcome": "lost", "lost_reason": "price"},
        )
        won = await client.post(
            "/deals",
            json={
                "customer_id": customer_id,
                "opportunity_id": lane["id"],
                "outcome": "won",
                "amount": "1100000.00",
                "currency": "CNY",
            },
        )
        again = await client.post(
            "/deals",
            json={
                "customer_id": customer_id,
                "opportunity_id": lane["id"],
                "outcome": "lost",
                "lost_reason": "price",
            },
        )
        still_open = (
            await client.get(f"/customers/{customer_id}/opportunities", params={"status": "open"})
        ).json()
    assert lane["amount"] == "1200000.00" and lane["lines"] == AS_STORED
    assert lane["owner_id"] == "sp-1" and lane["version"] == 1
    assert customs.status_code == 201 and bare.status_code == 201 and bare.json()["lines"] == []
    assert unnamed.status_code == 422 and "3 open opportunities" in unnamed.text
    assert won.status_code == 201 and won.json()["opportunity_id"] == lane["id"]
    assert won.json()["lines"] == AS_STORED  # the opportunity's, none being given
    assert again.status_code == 409 and "won already" in again.text
    assert sorted(item["id"] for item in still_open) == sorted(
        [customs.json()["id"], bare.json()["id"]]
    )
    records = await kafka.read(
        topic_of("StageChanged"), kafka.where(customer_id=customer_id), expect=6
    )
    events = [parse_event(record.value) for record in records]
    assert [e.event_type for e in events] == [
        "OpportunityOpened",
        "OpportunityOpened",
        "OpportunityOpened",
        "StageChanged",
        "StageChanged",
        "DealClosed",
    ]
    opened = events[0].payload
    assert (opened.amount, opened.expected_close_date.isoformat()) == (1200000, "2027-03-31")
    assert [line.mode for line in opened.lines] == ["cold_chain", "warehousing"]


async def test_the_owner_overrides_the_probability_with_a_reason_until_the_stage_moves(
    service, known_customer, http, kafka
):
    customer_id = await known_customer()
    async with http(service) as client:
        opened = (await client.post(f"/customers/{customer_id}/opportunities", json=TERMS)).json()
        url = f"/opportunities/{opened['id']}"
        without_version = await client.patch(url, json={"amount": "900000.00"})
        overridden = await client.patch(
            url,
            json={
                "win_probability": 0.35,
                "override_reason": "budget signed",
                "amount": "900000.00",
            },
            headers={"If-Match": '"1"'},
        )
        stale = await client.patch(url, json={"title": "x", "version": 1})
        same = await client.patch(url, json={"amount": "900000", "version": 2})
        moved = await client.post(f"{url}/stage", json={"to_stage": "needs_analysed"})
        moved_with_own = await client.post(
            f"{url}/stage",
            json={"to_stage": "proposal", "win_probability": 0.7, "override_reason": "verbal yes"},
        )
        back = await client.patch(
            url, json={"win_probability": None, "override_reason": None, "version": 4}
        )
        etag = (await client.get(url)).headers["ETag"]
    assert without_version.status_code == 428
    assert overridden.status_code == 200, overridden.text
    assert (overridden.json()["win_probability"], overridden.json()["amount"]) == (
        0.35,
        "900000.00",
    )
    assert stale.status_code == 409 and same.json()["version"] == 2
    assert (moved.json()["win_probability"], moved.json()["override_reason"]) == (0.25, None)
    assert (moved_with_own.json()["win_probability"], moved_with_own.json()["version"]) == (0.7, 4)
    assert (back.json()["win_probability"], back.json()["override_reason"]) == (0.5, None)
    assert etag == '"5"'
    records = await kafka.read(
        topic_of("StageChanged"), kafka.where(customer_id=customer_id), expect=5, settle_s=1
    )
    events = [parse_event(record.value) for record in records]
    assert [(e.event_type, e.payload.win_probability) for e in events] == [
        ("OpportunityOpened", 0.1),
        ("OpportunityUpdated", 0.35),
        ("StageChanged", 0.25),
        ("StageChanged", 0.7),
        ("OpportunityUpdated", 0.5),
    ]
    assert events[1].payload.changed == ["amount", "win_probability"]
    assert events[3].payload.override_reason == "verbal yes"
    times = [e.occurred_at for e in events]
    assert times == sorted(times) and len(set(times)) == len(times)


async def test_a_proposal_prices_its_opportunity_lines_and_the_won_deal_takes_those_rates(
    service, known_customer, http
):
    customer_id = await known_customer()
    async with http(service) as client:
        opened = (await client.post(f"/customers/{customer_id}/opportunities", json=TERMS)).json()
        proposal = {
            "customer_id": customer_id,
            "opportunity_id": opened["id"],
            "needs": ["weekly reefer lane"],
            "solution": "two trucks a week",
        }
        unknown_line = await client.post(
            "/proposals",
            json={**proposal, "line_prices": [{"line_id": "l9", "rate": "1", "rate_basis": "ton"}]},
        )
        no_opportunity = await client.post(
            "/proposals",
            json={
                **proposal,
                "opportunity_id": None,
                "line_prices": [{"line_id": "l1", "rate": "1", "rate_basis": "ton"}],
            },
        )
        written = (
            await client.post(
                "/proposals",
                json={
                    **proposal,
                    "line_prices": [{"line_id": "l1", "rate": "4950.00", "rate_basis": "shipment"}],
                },
            )
        ).json()
        revised = await client.post(
            f"/proposals/{written['id']}/revisions",
            json={
                "note": "warehouse priced",
                "line_prices": [
                    {"line_id": "l1", "rate": "4950.00", "rate_basis": "shipment"},
                    {"line_id": "l2", "rate": "36000.00", "rate_basis": "month"},
                ],
            },
        )
        await client.post(f"/proposals/{written['id']}/accept", json={})
        await client.post(f"/opportunities/{opened['id']}/stage", json={"to_stage": "proposal"})
        won = await client.post(
            "/deals",
            json={
                "customer_id": customer_id,
                "outcome": "won",
                "amount": "1000000.00",
                "currency": "CNY",
            },
        )
    assert unknown_line.status_code == 422 and "no line l9" in unknown_line.text
    assert no_opportunity.status_code == 422 and "opportunity_id" in no_opportunity.text
    assert revised.status_code == 200, revised.text
    reefer, warehouse = won.json()["lines"]
    assert (reefer["rate"], reefer["rate_basis"]) == ("4950.00", "shipment")
    assert (warehouse["rate"], warehouse["rate_basis"]) == ("36000.00", "month")


async def test_modes_come_from_the_configured_list(service, known_customer, http):
    customer_id = await known_customer()
    barge = {**WAREHOUSE, "mode": "barge"}
    async with http(service) as client:
        modes = (await client.get("/pipeline")).json()["modes"]
        refused = await client.post(
            f"/customers/{customer_id}/opportunities", json={"lines": [barge]}
        )
        won_barge = await client.post(
            "/deals",
            json={
                "customer_id": customer_id,
                "outcome": "won",
                "amount": "1.00",
                "currency": "CNY",
                "lines": [barge],
            },
        )
    assert "cold_chain" in modes and "barge" not in modes
    assert refused.status_code == 422 and "no mode barge: the modes are ftl" in refused.text
    assert won_barge.status_code == 422 and "no mode barge" in won_barge.text


async def test_a_database_kept_with_one_open_opportunity_per_customer_is_migrated_at_start(
    settings_for, running, service, http
):
    from crm_followup.bootstrap import bootstrap
    from crm_followup.settings import FollowupSettings

    # A database of its own, as the earlier version left it: its unique index holds.
    settings = settings_for(FollowupSettings, namespace=f"m{uuid.uuid4().hex[:8]}")
    db = service.store.db.client[settings.database_name]
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    await db[adapters.CUSTOMERS].insert_one(
        {"_id": customer_id, "name": "Kept Ltd", "status": "active", "owner_id": "sp-1"}
    )
    await db[adapters.OPPORTUNITIES].create_index(
        "customer_id",
        unique=True,
        name="one_open_per_customer",
        partialFilterExpression={"status": "open"},
    )
    entered = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    legacy = f"op-{uuid.uuid4().hex[:8]}"
    await db[adapters.OPPORTUNITIES].insert_one(  # as the earlier version wrote it
        {
            "_id": legacy,
            "customer_id": customer_id,
            "stage": "qualified",
            "status": "open",
            "win_probability": 0.1,
            "reopened_from": None,
            "history": [{"stage": "qualified", "entered_at": entered, "reason": "opened"}],
            "opened_at": entered,
            "closed_at": None,
        }
    )
    await db[adapters.PROPOSALS].insert_one(
        {
            "_id": f"pr-{uuid.uuid4().hex[:8]}",
            "customer_id": customer_id,
            "opportunity_id": legacy,
            "status": "open",
            "revision": 1,
            "revisions": [
                {
                    "revision": 1,
                    "needs": ["lane"],
                    "solution": "trucks",
                    "price": None,
                    "currency": None,
                    "note": None,
                    "at": entered,
                }
            ],
            "created_at": entered,
        }
    )
    restarted = await running(bootstrap(settings))
    indexes = await db[adapters.OPPORTUNITIES].index_information()
    migrated = await db[adapters.OPPORTUNITIES].find_one({"_id": legacy})
    proposal = await db[adapters.PROPOSALS].find_one({"opportunity_id": legacy})
    async with http(restarted) as client:
        second = await client.post(f"/customers/{customer_id}/opportunities", json=TERMS)
        changed = await client.patch(
            f"/opportunities/{legacy}", json={"amount": "5000.00", "currency": "CNY", "version": 1}
        )
        revised = await client.post(
            f"/proposals/{proposal['_id']}/revisions",
            json={"note": "priced", "price": "5000.00", "currency": "CNY"},
        )
    assert "one_open_per_customer" not in indexes
    assert (migrated["version"], migrated["changed_at"]) == (1, entered)
    assert second.status_code == 201
    assert changed.status_code == 200 and changed.json()["version"] == 2, changed.text
    assert revised.status_code == 200 and revised.json()["revisions"][1]["line_prices"] == []
    await db.client.drop_database(db.name)


async def test_a_deal_the_erp_closes_on_an_open_opportunity_closes_it_here_too(
    service, known_customer, http, kafka, eventually
):
    customer_id = await known_customer()
    async with http(service) as client:
        opened = (await client.post(f"/customers/{customer_id}/opportunities", json=TERMS)).json()
    erp = DealClosed(
        producer="erp",
        customer_id=customer_id,
        payload=DealClosedPayload(
            deal_id=f"erp-{uuid.uuid4().hex[:6]}",
            opportunity_id=opened["id"],
            outcome="won",
            amount="1150000.00",
            currency="CNY",
        ),
    )
    await kafka.publish(topic_of("DealClosed"), erp.to_bytes(), key=erp.key())
    await kafka.publish(topic_of("DealClosed"), erp.to_bytes(), key=erp.key())  # a redelivery
    closed = await eventually(
        lambda: service.store.db[adapters.OPPORTUNITIES].find_one(
            {"_id": opened["id"], "status": "won"}
        )
    )
    records = await kafka.read(
        topic_of("StageChanged"),
        kafka.where(customer_id=customer_id, event_type="StageChanged"),
        settle_s=1,
    )
    moved = json.loads(records[0].value)
    assert [h["stage"] for h in closed["history"]] == ["qualified", "won"]
    assert len(records) == 1 and moved["causation_id"] == str(erp.event_id)
    assert moved["payload"]["from_stage"] == "qualified" and moved["payload"]["to_stage"] == "won"
