"""Issue 14 end to end: a scripted quarter through the APIs and Kafka (several opportunities per
customer with service lines, an override, deals through the API and from the ERP, quotas for two
salespeople and their team), then every forecast and attainment figure checked against numbers
counted here from the same script."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from crm_contracts import DealClosed, DealClosedPayload, topic_of
from crm_runtime.periods import bounds, month_of, months_of

FIGURES = ("closed_won", "commit", "best_case", "pipeline", "weighted")


@dataclass(frozen=True)
class Open:
    owner: str
    amount: float
    probability: float
    closes: date
    tons: float


def figures(won: list[tuple[str, float, float]], opens: list[Open], owners: set[str], period: str):
    """The five figures, in money and tons, of `owners` in `period`, counted from the script."""
    months = set(months_of(period))
    money, tons = dict.fromkeys(FIGURES, 0.0), dict.fromkeys(FIGURES, 0.0)
    for owner, amount, weight in won:
        if owner in owners:
            for figure in FIGURES:
                money[figure] += amount
                tons[figure] += weight
    for o in opens:
        if o.owner not in owners or month_of(o.closes) not in months:
            continue
        for figure, counted, share in (
            ("commit", o.probability >= 0.75, 1.0),
            ("best_case", o.probability >= 0.5, 1.0),
            ("pipeline", True, 1.0),
            ("weighted", True, o.probability),
        ):
            if counted:
                money[figure] += o.amount * share
                tons[figure] += o.tons * share
    return {k: round(v, 2) for k, v in money.items()}, {k: round(v, 6) for k, v in tons.items()}


def against(found: dict[str, float], target: float) -> tuple[dict, dict]:
    return (
        {k: round(v / target, 4) for k, v in found.items()},
        {k: round(target - v, 6) for k, v in found.items()},
    )


async def test_a_scripted_quarter_gives_every_forecast_and_attainment_figure(
    admin, salesperson, kafka, until, until_equal
):
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    quarter = f"{now.year}-Q{(now.month + 2) // 3}"
    start, end = bounds(quarter)
    m1, m2, m3 = months_of(quarter)
    last_day = (end - timedelta(days=1)).date()
    first_of_m3 = bounds(m3)[0].date()
    next_quarter = (end + timedelta(days=14)).date()
    team = f"t-{run}"
    a, as_a = salesperson(f"qa-{run}")
    b, as_b = salesperson(f"qb-{run}")
    for person in (a, b):
        moved = admin.call("PATCH", "customer", f"/salespeople/{person}", json={"team": team})
        assert moved.status_code == 200, moved.text

    # Quotas: a's for the quarter; b's per month (the quarter's is their sum); the team's raised.
    def put_quota(target: str, target_id: str, period: str, body: dict):
        answer = admin.call("PUT", "customer", f"/quotas/{target}/{target_id}/{period}", json=body)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    put_quota(
        "salesperson", a, quarter, {"revenue": "10000.00", "currency": "CNY", "freight_tons": 500}
    )
    for month in (m1, m2, m3):
        put_quota("salesperson", b, month, {"revenue": "2000.00", "currency": "CNY"})
    put_quota("team", team, quarter, {"revenue": "15000.00", "currency": "CNY"})
    raised = put_quota(
        "team",
        team,
        quarter,
        {"revenue": "20000.00", "currency": "CNY", "reason": "board plan", "version": 1},
    )
    assert [v["revenue"] for v in raised["history"]] == ["15000.00", "20000.00"]

    def customer(client, region: str, name: str) -> str:
        created = client.post("customer", "/customers", {"name": name, "region": region})
        assert created.status_code == 201, created.text
        return created.json()["customer"]["id"]

    ca1, ca2 = customer(as_a, f"qa-{run}", "Quarter One"), customer(as_a, f"qa-{run}", "Two")
    cb1 = customer(as_b, f"qb-{run}", "Quarter Three")

    def open_when_known(client, customer_id: str, terms: dict) -> dict:
        """Opens the opportunity once the follow-up service knows the customer (a 422 before)."""
        url = f"/customers/{customer_id}/opportunities"
        answer = until(
            lambda: (r := client.post("followup", url, terms)).status_code == 201 and r,
            what=f"the follow-up service knowing {customer_id}",
        )
        return answer.json()

    def move(client, opportunity: dict, *stages: str) -> dict:
        for stage in stages:
            moved = client.post(
                "followup", f"/opportunities/{opportunity['id']}/stage", {"to_stage": stage}
            )
            assert moved.status_code == 200, moved.text
        return moved.json()

    reefer = {
        "line_id": "l1",
        "origin": "Shanghai",
        "destination": "Chengdu",
        "mode": "cold_chain",
        "monthly_tons": 100.0,
        "rate": "30.00",
        "rate_basis": "ton",
    }
    depot = {
        "line_id": "l2",
        "origin": "Chengdu",
        "mode": "warehousing",
        "monthly_tons": 50.0,
        "rate": "1000.00",
        "rate_basis": "month",
    }
    truck = {
        "line_id": "l1",
        "origin": "Shanghai",
        "destination": "Beijing",
        "mode": "ftl",
        "monthly_tons": 80.0,
    }

    def terms(amount: str | None, closes: date | None, *lines: dict) -> dict:
        found: dict = {"lines": list(lines)}
        if amount:
            found |= {"amount": amount, "currency": "CNY"}
        if closes:
            found["expected_close_date"] = closes.isoformat()
        return found

    # a: four opportunities on one customer, two on another.
    o1 = open_when_known(as_a, ca1, terms("4000.00", last_day, reefer, depot))
    o2 = as_a.post(
        "followup", f"/customers/{ca1}/opportunities", terms("3000.00", first_of_m3, truck)
    ).json()
    for later in (terms("1000.00", next_quarter), terms(None, None)):  # another quarter; none
        assert as_a.post("followup", f"/customers/{ca1}/opportunities", later).status_code == 201
    o5 = open_when_known(as_a, ca2, terms("2000.00", last_day))
    o6 = as_a.post(
        "followup", f"/customers/{ca2}/opportunities", terms("500.00", first_of_m3)
    ).json()
    move(as_a, o1, "proposal", "negotiation")  # 0.75: commit
    o2 = move(as_a, o2, "proposal")
    overridden = as_a.call(
        "PATCH",
        "followup",
        f"/opportunities/{o2['id']}",
        json={
            "win_probability": 0.8,
            "override_reason": "tender shortlisted",
            "version": o2["version"],
        },
    )
    assert overridden.status_code == 200 and overridden.json()["win_probability"] == 0.8
    move(as_a, o5, "proposal")
    several = as_a.post(
        "followup",
        "/deals",
        {"customer_id": ca2, "outcome": "won", "amount": "2200.00", "currency": "CNY"},
    )
    assert several.status_code == 422 and "2 open opportunities" in several.text
    won = as_a.post(
        "followup",
        "/deals",
        {
            "customer_id": ca2,
            "opportunity_id": o5["id"],
            "outcome": "won",
            "amount": "2200.00",
            "currency": "CNY",
        },
    )
    lost = as_a.post(
        "followup",
        "/deals",
        {"customer_id": ca2, "opportunity_id": o6["id"], "outcome": "lost", "lost_reason": "price"},
    )
    assert won.status_code == 201 and lost.status_code == 201, (won.text, lost.text)
    won_at = datetime.fromisoformat(won.json()["closed_at"])

    # b: one in the first stage, and one the ERP closes as won, in the quarter's second month.
    open_when_known(as_b, cb1, terms("6000.00", last_day))
    o8 = as_b.post(
        "followup", f"/customers/{cb1}/opportunities", terms("1500.00", first_of_m3)
    ).json()
    erp_at = bounds(m2)[0] + timedelta(hours=10)
    erp = DealClosed(
        producer="erp",
        customer_id=cb1,
        occurred_at=erp_at,
        payload=DealClosedPayload(
            deal_id=f"erp-{run}",
            opportunity_id=o8["id"],
            salesperson_id=b,
            outcome="won",
            amount="1500.00",
            currency="CNY",
            monthly_freight_volume_tons=40.0,
        ),
    )
    await kafka.publish(topic_of("DealClosed"), erp.to_bytes(), key=erp.key())
    until(
        lambda: as_b.get("followup", f"/opportunities/{o8['id']}").json()["stage"] == "won",
        what="the ERP's deal closing its opportunity",
    )

    # Counted from the script.
    opens = [
        Open(a, 4000.0, 0.75, last_day, 150.0),
        Open(a, 3000.0, 0.8, first_of_m3, 80.0),
        Open(a, 1000.0, 0.1, next_quarter, 0.0),
        Open(b, 6000.0, 0.1, last_day, 0.0),
    ]
    won_deals = [(a, 2200.0, 0.0), (b, 1500.0, 40.0)]
    assert start <= won_at < end and start <= erp_at < end  # else the script's quarter moved on
    quotas = {a: (10000.0, 500.0, "set"), b: (6000.0, None, "parts")}
    expected_people = {}
    for person, unscheduled in ((a, 1), (b, 0)):
        money, tons = figures(won_deals, opens, {person}, quarter)
        revenue, freight, source = quotas[person]
        attainment, gap = against(money, revenue)
        expected_people[person] = {
            "revenue": {"CNY": money},
            "quota": {
                "revenue": revenue,
                "currency": "CNY",
                "freight_tons": freight,
                "from": source,
            },
            "attainment": attainment,
            "gap": gap,
            "freight_tons": tons,
            "freight_attainment": against(tons, freight)[0] if freight else None,
            "deals_won": 1,
            "open_opportunities": 2 if person == a else 1,
            "unscheduled_opportunities": unscheduled,
        }

    def people_rows():
        rows = admin.get(
            "reporting", "/reports/forecast/period", params={"period": quarter}
        ).json()["rows"]
        return {
            row["salesperson_id"]: {key: row[key] for key in expected_people[a]}
            for row in rows
            if row["salesperson_id"] in (a, b)
        }

    until_equal(people_rows, expected_people, what="the period forecast per salesperson")

    money, tons = figures(won_deals, opens, {a, b}, quarter)
    attainment, gap = against(money, 20000.0)

    def team_row():
        params = {"period": quarter, "group": "team", "team": team}
        [row] = admin.get("reporting", "/reports/forecast/period", params=params).json()["rows"]
        return {key: row[key] for key in ("revenue", "attainment", "gap", "freight_tons")}

    until_equal(
        team_row,
        {"revenue": {"CNY": money}, "attainment": attainment, "gap": gap, "freight_tons": tons},
        what="the team's period forecast",
    )

    # By mode: o1's 4000 split by its lines' monthly values (3000 and 1000), o2 all on its truck.
    def modes():
        params = {"period": quarter, "by": "mode", "salesperson_id": a}
        rows = admin.get("reporting", "/reports/forecast/period", params=params).json()["rows"]
        return {row["mode"]: row["revenue"]["CNY"]["pipeline"] for row in rows}

    until_equal(modes, {"cold_chain": 3000.0, "warehousing": 1000.0, "ftl": 3000.0}, what="modes")

    # The scorecard of the whole quarter shows a's attainment; the funnel counts opportunities.
    def scorecard():
        params = {"since": start.isoformat(), "until": end.isoformat(), "salesperson_id": a}
        [row] = admin.get("reporting", "/reports/scorecard", params=params).json()["rows"]
        return row["attainment"]

    until_equal(scorecard, {"revenue": round(2200 / 10000, 4), "freight_tons": 0.0}, what="card")

    def opened():
        params = {"since": (now - timedelta(hours=1)).isoformat(), "region": f"qa-{run}"}
        return admin.get("reporting", "/reports/funnel", params=params).json()["opportunities"]

    until_equal(opened, 6, what="the funnel: each of a's opportunities, on two customers")
