"""Issue 6 end to end: a scripted history through the public APIs and straight onto Kafka, then
every report checked against numbers counted here from the same script."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    DealClosed,
    DealClosedPayload,
    topic_of,
)


async def test_the_reports_match_a_scripted_history(admin, salesperson, kafka, until, until_equal):
    region = f"rep-{uuid.uuid4().hex[:6]}"
    me, client = salesperson(region)
    # Through the APIs: three customers of `me`, four follow-ups, one opportunity moved to proposal
    # with a priced proposal, one deal won and one lost.
    ids = []
    for n, tons in enumerate((100, 600, 1200)):
        created = client.post(
            "customer",
            "/customers",
            {
                "name": f"Reported {n}",
                "region": region,
                "industry": "retail",
                "monthly_freight_volume_tons": tons,
            },
        )
        ids.append(created.json()["customer"]["id"])
    for customer_id in ids:
        until(
            lambda c=customer_id: (
                client.post("followup", f"/customers/{c}/opportunities").status_code in (201, 409)
            ),
            what="the follow-up service knowing the customers",
        )
    for customer_id, channel in (
        (ids[0], "visit"),
        (ids[0], "call"),
        (ids[1], "visit"),
        (ids[2], "email"),
    ):
        assert (
            client.post(
                "followup",
                "/followups",
                {
                    "customer_id": customer_id,
                    "salesperson_id": me,
                    "channel": channel,
                    "subject": "s",
                    "started_at": datetime.now(UTC).isoformat(),
                    "ended_at": datetime.now(UTC).isoformat(),
                },
            ).status_code
            == 201
        )
    for customer_id in (ids[0], ids[2]):
        opportunity = client.get("followup", f"/customers/{customer_id}/opportunities").json()[0][
            "id"
        ]
        client.post(
            "followup", f"/opportunities/{opportunity}/stage", {"to_stage": "needs_analysed"}
        )
        client.post("followup", f"/opportunities/{opportunity}/stage", {"to_stage": "proposal"})
    client.post(
        "followup",
        "/proposals",
        {
            "customer_id": ids[2],
            "opportunity_id": opportunity,
            "needs": ["lane"],
            "solution": "trucks",
            "price": "2000.00",
            "currency": "CNY",
        },
    )
    won = client.post(
        "followup",
        "/deals",
        {
            "customer_id": ids[0],
            "salesperson_id": me,
            "outcome": "won",
            "amount": "300.00",
            "currency": "CNY",
            "product_lines": ["FTL", "LTL"],
        },
    )
    lost = client.post(
        "followup",
        "/deals",
        {"customer_id": ids[1], "salesperson_id": me, "outcome": "lost", "lost_reason": "price"},
    )
    assert won.status_code == 201 and lost.status_code == 201, (won.text, lost.text)
    # Straight onto Kafka, as the ERP: a customer of its own with a deal won by `me`.
    erp_id = f"erp-{uuid.uuid4().hex[:8]}"
    for event in (
        CustomerCreated(
            producer="erp",
            customer_id=erp_id,
            payload=CustomerCreatedPayload(
                name="ERP Reported",
                region=region,
                industry="mining",
                monthly_freight_volume_tons=50,
            ),
        ),
        DealClosed(
            producer="erp",
            customer_id=erp_id,
            payload=DealClosedPayload(
                deal_id=f"erp-{uuid.uuid4().hex[:6]}",
                salesperson_id=me,
                outcome="won",
                amount="700.00",
                currency="CNY",
            ),
        ),
    ):
        await kafka.publish(topic_of(event.event_type), event.to_bytes(), key=event.key())

    period = {
        "since": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "region": region,
    }

    def my_scorecard(params=period):
        rows = admin.get("reporting", "/reports/scorecard", params=params).json()["rows"]
        row = next((r for r in rows if r["salesperson_id"] == me), {})
        return {key: row.get(key) for key in expected_scorecard}

    expected_scorecard = {
        "new_leads": 3,
        "followups": 4,
        "followups_by_channel": {"call": 1, "email": 1, "visit": 2},
        "proposals": 1,
        "deals_won": 2,
        "deals_lost": 1,
        "win_rate": round(2 / 3, 4),
        "revenue_won": {"CNY": 1000.0},
        "cross_selling_customers": 1,
    }
    until_equal(my_scorecard, expected_scorecard, what="the scorecard")

    def funnel():
        answer = admin.get("reporting", "/reports/funnel", params=period).json()
        stages = {r["stage"]: r for r in answer["rows"]}
        return {
            "opportunities": answer["opportunities"],
            "qualified reached": stages["qualified"]["reached"],
            "proposal open": stages["proposal"]["open"],
            "won reached": stages["won"]["reached"],
            "lost reached": stages["lost"]["reached"],
        }

    until_equal(
        funnel,
        {
            "opportunities": 3,
            "qualified reached": 3,
            "proposal open": 1,
            "won reached": 1,
            "lost reached": 1,
        },
        what="the funnel",
    )

    def bands():
        params = {"region": region, "by": ["band"]}
        rows = admin.get("reporting", "/reports/value", params=params).json()["rows"]
        return {r["band"]: r["customers"] for r in rows}

    until_equal(bands, {"50-200t": 2, "500-1000t": 1, "1000t+": 1}, what="the value report")

    def forecast():
        params = {"salesperson_id": me}
        rows = admin.get("reporting", "/reports/forecast", params=params).json()["rows"]
        return [row["weighted_forecast"] for row in rows]

    # 2000 at the proposal stage's 0.5
    until_equal(forecast, [{"CNY": 1000.0}], what="the forecast")

    def lifecycle():
        answer = admin.get("reporting", "/reports/lifecycle", params={"region": region}).json()
        return (answer["customers"], answer["by_lifecycle"].get("client"))

    until_equal(lifecycle, (4, 2), what="the lifecycle report")
    as_csv = admin.get("reporting", "/reports/scorecard", params={**period, "format": "csv"})
    assert (
        next(r for r in csv.DictReader(io.StringIO(as_csv.text)) if r["salesperson_id"] == me)[
            "deals_won"
        ]
        == "2"
    )
    assert client.get("reporting", "/reports/scorecard", params=period).status_code == 403
