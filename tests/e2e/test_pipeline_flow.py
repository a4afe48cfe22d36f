"""Issue 4 end to end: follow-ups, a stage move, a proposal revised then accepted, deals won and
lost, and follow-ups that other systems publish straight to Kafka — each reaching reporting."""

import uuid
from datetime import UTC, datetime, timedelta

from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    VisitLogged,
    VisitLoggedPayload,
    topic_of,
)


def new_customer(client, until, region: str, name: str) -> str:
    created = client.post(
        "customer", "/customers", {"name": name, "region": region, "size": "medium"}
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["customer"]["id"]
    until(
        lambda: (
            client.get("followup", f"/customers/{customer_id}/opportunities").status_code == 200
            and client.post("followup", f"/customers/{customer_id}/opportunities").status_code
            in (201, 409)
        ),
        what="the follow-up service knowing the customer",
    )
    return customer_id


def report_of(client, until, customer_id: str, ready) -> dict:
    def check():
        response = client.get("reporting", f"/customers/{customer_id}")
        return response.status_code == 200 and ready(response.json()) and response.json()

    return until(check, what=f"reporting of {customer_id}")


def test_a_won_and_a_lost_pipeline_reach_reporting_step_by_step(salesperson, until):
    region = f"pipe-{uuid.uuid4().hex[:6]}"
    me, client = salesperson(region)
    won_id = new_customer(client, until, region, "Won Pipeline Ltd")
    opportunity = client.get("followup", f"/customers/{won_id}/opportunities").json()[0]

    visit = client.post(
        "followup",
        "/followups",
        {
            "customer_id": won_id,
            "salesperson_id": me,
            "channel": "visit",
            "subject": "site visit",
            "started_at": "2026-11-20T09:00:00+08:00",
            "ended_at": "2026-11-20T11:00:00+08:00",
            "stage": "qualified",
            "site": {"production": "busy", "orderliness": "good", "owner_plans": "a second plant"},
        },
    )
    moved = client.post(
        "followup", f"/opportunities/{opportunity['id']}/stage", {"to_stage": "needs_analysed"}
    )
    proposal = client.post(
        "followup",
        "/proposals",
        {
            "customer_id": won_id,
            "opportunity_id": opportunity["id"],
            "needs": ["weekly lane"],
            "solution": "two trucks a week",
            "price": "120000.00",
            "currency": "CNY",
        },
    ).json()
    revised = client.post(
        "followup",
        f"/proposals/{proposal['id']}/revisions",
        {"price": "110000.00", "note": "volume discount"},
    )
    accepted = client.post("followup", f"/proposals/{proposal['id']}/accept")
    to_proposal = client.post(
        "followup", f"/opportunities/{opportunity['id']}/stage", {"to_stage": "proposal"}
    )
    won = client.post(
        "followup",
        "/deals",
        {
            "customer_id": won_id,
            "salesperson_id": me,
            "outcome": "won",
            "amount": "110000.00",
            "currency": "CNY",
            "product_lines": ["FTL"],
            "monthly_freight_volume_tons": 300,
            "contract_start": "2027-01-01",
            "contract_end": "2027-12-31",
        },
    )
    answers = [visit, moved, revised, accepted, to_proposal, won]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200, 201], [
        a.text for a in answers
    ]

    def won_pipeline(r):
        kinds = [entry["kind"] for entry in r["timeline"]]
        return {
            "stage": (r.get("pipeline") or {}).get("stage"),
            "win_probability": (r.get("pipeline") or {}).get("win_probability"),
            "deals_won": r["counts"]["deals_won"],
            "timeline": {kind: kinds.count(kind) for kind in ("followup", "deal", "stage")},
            "proposals": sorted(
                e["details"]["event_type"] for e in r["timeline"] if e["kind"] == "proposal"
            ),
        }

    expected_won = {
        "stage": "won",
        "win_probability": 1.0,
        "deals_won": 1,
        "timeline": {"followup": 1, "deal": 1, "stage": 4},
        "proposals": ["ProposalAccepted", "ProposalCreated", "ProposalRevised"],
    }
    report_of(client, until, won_id, lambda r: won_pipeline(r) == expected_won)

    lost_id = new_customer(client, until, region, "Lost Pipeline Ltd")
    lost = client.post(
        "followup",
        "/deals",
        {
            "customer_id": lost_id,
            "salesperson_id": me,
            "outcome": "lost",
            "lost_reason": "price",
            "competitor": "SF Express",
        },
    )
    assert lost.status_code == 201, lost.text

    def lost_pipeline(r):
        deals = [e["details"] for e in r["timeline"] if e["kind"] == "deal"]
        return (
            r["counts"]["deals_lost"],
            [(d["lost_reason"], d["competitor"]) for d in deals],
            (r.get("pipeline") or {}).get("stage"),
        )

    expected_lost = (1, [("price", "SF Express")], "lost")
    report_of(client, until, lost_id, lambda r: lost_pipeline(r) == expected_lost)


async def test_visits_other_systems_publish_arrive_once_even_before_their_customer(
    admin, kafka, until
):
    started = datetime.now(UTC) - timedelta(hours=1)

    def call_centre_visit(customer_id: str) -> VisitLogged:
        return VisitLogged(
            producer="call-centre",
            customer_id=customer_id,
            payload=VisitLoggedPayload(
                followup_id=f"cc-{uuid.uuid4().hex[:8]}",
                salesperson_id="cc-agent-7",
                channel="call",
                subject="inbound call",
                started_at=started,
                ended_at=started + timedelta(minutes=5),
            ),
        )

    erp_customer = f"erp-{uuid.uuid4().hex[:8]}"
    early, twice = call_centre_visit(erp_customer), call_centre_visit(erp_customer)
    for event in (early, twice, twice):  # the second one twice: counted once
        await kafka.publish(topic_of("VisitLogged"), event.to_bytes(), key=event.key())
    created = CustomerCreated(
        producer="erp",
        customer_id=erp_customer,
        payload=CustomerCreatedPayload(name="Created By The ERP Ltd"),
    )
    await kafka.publish(topic_of("CustomerCreated"), created.to_bytes(), key=created.key())

    expected = (2, sorted([early.payload.followup_id, twice.payload.followup_id]))
    report_of(
        admin,
        until,
        erp_customer,
        lambda r: (
            bool(r.get("profile"))
            and (
                r["counts"]["followups"],
                sorted(e["details"]["followup_id"] for e in r["timeline"]),
            )
            == expected
        ),
    )
    # The follow-up service kept the one that came before its customer, then applied it.
    stored = until(
        lambda: (
            len(
                items := admin.get(
                    "followup", "/followups", params={"customer_id": erp_customer}
                ).json()["items"]
            )
            == 2
            and items
        ),
        what="both call-centre visits in the follow-up service",
    )
    assert {item["source"] for item in stored} == {"call-centre"}
