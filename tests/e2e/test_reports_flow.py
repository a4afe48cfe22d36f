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


async def test_the_reports_match_a_scripted_history(admin, salesperson, kafka, until):
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

    def scorecard():
        rows = admin.get("reporting", "/reports/scorecard", params=period).json()["rows"]
        row = next((r for r in rows if r["salesperson_id"] == me), None)
        return (
            row
            and row["deals_won"] == 2
            and row["followups"] == 4
            and row["proposals"] == 1
            and row
        )

    row = until(scorecard, what="the scorecard catching up")
    assert (row["new_leads"], row["deals_lost"], row["win_rate"]) == (3, 1, round(2 / 3, 4))
    assert row["revenue_won"] == {"CNY": 1000.0} and row["cross_selling_customers"] == 1
    assert row["followups_by_channel"] == {"call": 1, "email": 1, "visit": 2}

    funnel = until(
        lambda: (
            (f := admin.get("reporting", "/reports/funnel", params=period).json())["opportunities"]
            == 3
            and {r["stage"]: r for r in f["rows"]}["lost"]["reached"] == 1
            and f
        ),
        what="the funnel",
    )
    stages = {r["stage"]: r for r in funnel["rows"]}
    assert (
        stages["qualified"]["reached"],
        stages["proposal"]["open"],
        stages["won"]["reached"],
    ) == (3, 1, 1)

    value = admin.get(
        "reporting", "/reports/value", params={"region": region, "by": ["band"]}
    ).json()["rows"]
    assert {r["band"]: r["customers"] for r in value} == {"50-200t": 2, "500-1000t": 1, "1000t+": 1}
    forecast = admin.get("reporting", "/reports/forecast", params={"salesperson_id": me}).json()[
        "rows"
    ]
    assert forecast[0]["weighted_forecast"] == {"CNY": 1000.0}  # 2000 at the proposal stage's 0.5
    lifecycle = admin.get("reporting", "/reports/lifecycle", params={"region": region}).json()
    assert lifecycle["customers"] == 4 and lifecycle["by_lifecycle"].get("client") == 2
    as_csv = admin.get("reporting", "/reports/scorecard", params={**period, "format": "csv"})
    assert (
        next(r for r in csv.DictReader(io.StringIO(as_csv.text)) if r["salesperson_id"] == me)[
            "deals_won"
        ]
        == "2"
    )
    assert client.get("reporting", "/reports/scorecard", params=period).status_code == 403
