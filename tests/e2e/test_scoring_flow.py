"""Issue 5 end to end: a customer's score moves, with its reasons, after financials and after
follow-ups recorded through the public APIs, and reaches reporting."""

import uuid


def test_financials_and_follow_ups_move_the_score_with_reasons(admin, salesperson, until):
    region = f"score-{uuid.uuid4().hex[:6]}"
    me, client = salesperson(region)
    created = client.post(
        "customer",
        "/customers",
        {
            "name": "Scored Freight Ltd",
            "region": region,
            "size": "large",
            "industry": "cold chain",
            "monthly_freight_volume_tons": 800,
        },
    )
    customer_id = created.json()["customer"]["id"]

    def latest_score():
        response = client.get("reporting", f"/customers/{customer_id}")
        return response.status_code == 200 and response.json().get("latest_score")

    first = until(latest_score, what="a first score")
    financials = client.call(
        "PUT",
        "customer",
        f"/customers/{customer_id}/financials",
        json={
            "statements": [
                {
                    "year": 2025,
                    "current_assets": "160",
                    "current_liabilities": "100",
                    "total_assets": "400",
                    "total_liabilities": "150",
                    "revenue": "1000",
                    "net_profit": "90",
                    "accounts_receivable": "100",
                    "operating_cash_flow": "50",
                }
            ]
        },
    )
    assert financials.status_code == 200, financials.text
    after_financials = until(
        lambda: (s := latest_score()) and s["score"] > first["score"] and s,
        what="the score after financials",
    )
    assert any(
        c["factor"].startswith("financial.") and c["points"] > 0
        for c in after_financials["contributions"]
    )

    until(
        lambda: (
            client.post(
                "followup",
                "/followups",
                {
                    "customer_id": customer_id,
                    "salesperson_id": me,
                    "channel": "visit",
                    "subject": "site visit",
                    "started_at": "2026-11-26T09:00:00+08:00",
                    "ended_at": "2026-11-26T10:00:00+08:00",
                },
            ).status_code
            == 201
        ),
        what="the follow-up service knowing the customer",
    )
    after_visit = until(
        lambda: (s := latest_score()) and s["score"] > after_financials["score"] and s,
        what="the score after a follow-up",
    )
    assert any("follow-up" in reason for reason in after_visit["reasons"])
    assert sum(c["points"] for c in after_visit["contributions"]) == after_visit["score"]
    features = admin.get("scoring", f"/customers/{customer_id}/features").json()
    assert (
        features["features"]["ratios"]["current_ratio"] == 1.6
        and len(features["features"]["followups"]) == 1
    )
