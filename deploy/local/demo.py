"""A small demo flow through the running stack (stack.py up): HTTP in, Kafka across, HTTP out.

Creates three customers, logs follow-ups, closes one deal won and one lost, works two
opportunities with service lines on one customer, sets the quarter's quotas, then prints what
reporting says of each customer once the scores have arrived, and the quarter's forecast.
"""

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from crm_runtime.periods import bounds

CUSTOMER, FOLLOWUP, REPORTING = (
    "http://127.0.0.1:8001",
    "http://127.0.0.1:8002",
    "http://127.0.0.1:8004",
)
ADMIN_PASSWORD = Path(__file__).resolve().parents[2] / ".local" / "admin-password"
WAIT_S = 60
TOKEN: dict[str, str] = {}


def post(url: str, body: dict, correlation_id: str | None = None, method: str = "POST") -> dict:
    headers = {**TOKEN, "X-Correlation-ID": correlation_id or str(uuid.uuid4())}
    response = httpx.request(method, url, json=body, headers=headers, timeout=10)
    if response.status_code >= 400:
        sys.exit(f"{url} answered {response.status_code}: {response.text}")
    return response.json()


def login() -> None:
    password = ADMIN_PASSWORD.read_text().strip()
    answer = post(f"{CUSTOMER}/auth/login", {"username": "admin", "password": password})
    TOKEN["Authorization"] = f"Bearer {answer['access_token']}"


def visit(customer_id: str, owner: str, subject: str, hours_ago: int, correlation_id: str) -> None:
    end = datetime.now(UTC) - timedelta(hours=hours_ago)
    post(
        f"{FOLLOWUP}/followups",
        {
            "customer_id": customer_id,
            "salesperson_id": owner,
            "channel": "visit",
            "subject": subject,
            "started_at": (end - timedelta(hours=1)).isoformat(),
            "ended_at": end.isoformat(),
        },
        correlation_id,
    )


def wait_until_known(customer_id: str) -> None:
    """The follow-up service learns of new customers from Kafka, a moment after they are created."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        response = httpx.post(
            f"{FOLLOWUP}/customers/{customer_id}/opportunities", headers=TOKEN, timeout=10
        )
        if response.status_code == 201:
            return
        time.sleep(0.3)
    sys.exit(f"the follow-up service did not learn of customer {customer_id} within {WAIT_S} s")


def seed_history(run: str, customers: int = 80) -> None:
    """Last year's deals, as the ERP would publish them straight to Kafka: enough for the win
    probability to learn from and for `crm-scoring-replay` to measure. Cold chain and automotive
    win more often than mining and textiles here (a seeded, made-up propensity)."""
    import asyncio
    import random

    from aiokafka import AIOKafkaProducer
    from crm_contracts import (
        CustomerCreated,
        CustomerCreatedPayload,
        DealClosed,
        DealClosedPayload,
        topic_of,
    )

    propensity = {
        "cold chain": 0.75,
        "automotive": 0.65,
        "electronics": 0.5,
        "mining": 0.25,
        "textiles": 0.2,
    }
    rng = random.Random(42)
    start = datetime.now(UTC) - timedelta(days=365)
    events = []
    for n in range(customers):
        industry = rng.choice(sorted(propensity))
        size = rng.choice(["small", "medium", "large"])
        customer_id = f"erp-{run}-{n}"
        created_at = start + timedelta(days=n * 4)
        events.append(
            CustomerCreated(
                producer="erp",
                customer_id=customer_id,
                occurred_at=created_at,
                payload=CustomerCreatedPayload(
                    name=f"ERP customer {n} ({run})",
                    industry=industry,
                    size=size,
                    region="east",
                    monthly_freight_volume_tons=rng.uniform(20, 1500),
                ),
            )
        )
        won = rng.random() < propensity[industry] + (0.1 if size == "large" else 0)
        facts = {"amount": "500000.00", "currency": "CNY"} if won else {"lost_reason": "price"}
        events.append(
            DealClosed(
                producer="erp",
                customer_id=customer_id,
                occurred_at=created_at + timedelta(days=30),
                payload=DealClosedPayload(
                    deal_id=f"erp-deal-{run}-{n}", outcome="won" if won else "lost", **facts
                ),
            )
        )

    async def publish() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers="127.0.0.1:9092", acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait(
                    topic_of(event.event_type), event.to_bytes(), key=event.key()
                )
        finally:
            await producer.stop()

    asyncio.run(publish())
    print(f"imported  {customers} customers and their deals from the ERP, straight onto Kafka")


def main() -> None:
    login()
    run = uuid.uuid4().hex[:6]
    seed_history(run)
    for name, regions, seniority, team in (
        ("Li Na", ["east", "south"], 3, f"east-{run}"),
        ("Zhang Wei", ["east", "west"], 1, f"east-{run}"),
        ("Aygul Tursun", ["west"], 2, None),
    ):
        person = post(
            f"{CUSTOMER}/salespeople",
            {
                "salesperson_id": f"{name.split()[0].lower()}-{run}",
                "name": name,
                "regions": regions,
                "capacity": 20,
                "seniority": seniority,
                "team": team,
            },
        )
        print(
            f"salesperson {person['salesperson_id']:<16} regions {', '.join(regions):<12} "
            f"seniority {seniority}"
        )
    flows = []
    for name, size, nature, tons, region in [
        ("Huadong Cold Chain", "large", "state_owned", 1200, "east"),
        ("Xinjiang Mining Group", "medium", "group_company", 400, "west"),
        ("Pearl River Electronics", "small", "private_enterprise", 60, "east"),
    ]:
        correlation_id = str(uuid.uuid4())
        created = post(
            f"{CUSTOMER}/customers",
            {
                "name": f"{name} ({run})",
                "size": size,
                "nature": nature,
                "region": region,
                "monthly_freight_volume_tons": tons,
            },
            correlation_id,
        )
        customer, assignment = created["customer"], created["assignment"]
        flows.append((customer["id"], correlation_id, assignment["owner_id"]))
        print(f"created   {customer['name']:<34} {assignment['why']}")

    (first, c1, o1), (second, c2, o2), (third, c3, o3) = flows
    for customer_id, _, _ in flows:
        wait_until_known(customer_id)  # and open its opportunity
    visit(first, o1, "site visit: warehouse tour", 48, c1)
    opportunity = httpx.get(f"{FOLLOWUP}/customers/{first}/opportunities", headers=TOKEN).json()[0][
        "id"
    ]
    post(f"{FOLLOWUP}/opportunities/{opportunity}/stage", {"to_stage": "needs_analysed"}, c1)
    proposal = post(
        f"{FOLLOWUP}/proposals",
        {
            "customer_id": first,
            "opportunity_id": opportunity,
            "needs": ["weekly Shanghai-Chengdu reefer lane"],
            "solution": "two reefer trucks a week",
            "price": "2000000.00",
            "currency": "CNY",
        },
        c1,
    )
    post(
        f"{FOLLOWUP}/proposals/{proposal['id']}/revisions",
        {"price": "1850000.00", "note": "volume discount"},
        c1,
    )
    post(f"{FOLLOWUP}/proposals/{proposal['id']}/accept", {}, c1)
    post(f"{FOLLOWUP}/opportunities/{opportunity}/stage", {"to_stage": "proposal"}, c1)
    visit(first, o1, "proposal review", 24, c1)
    post(
        f"{FOLLOWUP}/deals",
        {
            "customer_id": first,
            "salesperson_id": o1,
            "outcome": "won",
            "amount": "1850000.00",
            "currency": "CNY",
            "monthly_freight_volume_tons": 900,
        },
        c1,
    )
    visit(second, o2, "first call", 12, c2)
    post(
        f"{FOLLOWUP}/deals",
        {
            "customer_id": second,
            "salesperson_id": o2,
            "outcome": "lost",
            "lost_reason": "price",
            "competitor": "SF Express",
        },
        c2,
    )
    visit(third, o3, "intro meeting", 2, c3)
    print(
        "logged    4 follow-ups, 2 stage moves, a proposal revised and accepted, 1 deal won, "
        "1 deal lost"
    )
    quarter = work_the_quarter(third, o3, run, c3)

    expected = {first: (2, 1, 0), second: (1, 0, 1), third: (1, 0, 0)}
    deadline = time.monotonic() + WAIT_S
    reports: dict[str, dict] = {}
    while time.monotonic() < deadline and len(reports) < len(flows):
        for customer_id, (followups, won, lost) in expected.items():
            response = httpx.get(f"{REPORTING}/customers/{customer_id}", headers=TOKEN, timeout=10)
            report = response.json() if response.status_code == 200 else {}
            counts = report.get("counts", {})
            score = report.get("latest_score") or {}
            if (counts.get("followups"), counts.get("deals_won"), counts.get("deals_lost")) == (
                followups,
                won,
                lost,
            ) and score.get("occurred_at", "") >= max(
                e["occurred_at"] for e in report["timeline"] if e["kind"] in ("followup", "deal")
            ):
                reports[customer_id] = report
        time.sleep(0.5)
    if len(reports) < len(flows):
        sys.exit(f"reporting did not catch up within {WAIT_S} s: see .local/services/*.log")

    print("\nwhat reporting says (GET /customers/{id} on :8004):")
    for customer_id, _, _ in flows:
        report = reports[customer_id]
        score, counts = report["latest_score"], report["counts"]
        print(f"\n  {report['profile']['name']}  (owner {report['owner_id']})")
        print(
            f"    score {score['score']}  tier {score['tier']}  "
            f"win probability {score['win_probability']:.0%}"
        )
        print(
            f"    follow-ups {counts['followups']}  deals won {counts['deals_won']}  "
            f"lost {counts['deals_lost']}"
            f"  stage {(report.get('pipeline') or {}).get('stage')}"
        )
        print(f"    why: {'; '.join(score['reasons'])}")
        for entry in report["timeline"]:
            details = entry["details"]
            what = (
                details.get("subject")
                or details.get("event_type")
                or (
                    f"{details.get('from_stage', 'opened')} -> "
                    f"{details.get('to_stage', details.get('stage'))}"
                    if entry["kind"] == "stage"
                    else f"deal {details.get('outcome')}"
                )
            )
            print(f"    {entry['at'][:16]}  {entry['kind']:<8} {what}")
    print_forecast(quarter, run)
    print(
        "\nthe stack stays up: `make down` stops it; "
        "`.venv/bin/crm-scoring-replay --models value-v1 value-v2 value-v3`"
        " backtests the scoring models on what is in Kafka now"
    )


def work_the_quarter(customer_id: str, owner: str, run: str, correlation_id: str) -> str:
    """Two opportunities of one customer with their service lines, one moved on and given the
    owner's own probability; quotas for the quarter. Returns the quarter."""
    now = datetime.now(UTC)
    quarter = f"{now.year}-Q{(now.month + 2) // 3}"
    closes = (bounds(quarter)[1] - timedelta(days=1)).date().isoformat()
    lanes = f"{FOLLOWUP}/customers/{customer_id}/opportunities"
    [opened] = httpx.get(lanes, headers=TOKEN, timeout=10).json()  # opened when it was known
    reefer = {
        "line_id": "l1",
        "origin": "Shenzhen",
        "destination": "Chengdu",
        "mode": "cold_chain",
        "monthly_tons": 60,
        "monthly_shipments": 8,
        "rate": "5200.00",
        "rate_basis": "shipment",
    }
    depot = {
        "line_id": "l2",
        "origin": "Chengdu",
        "mode": "warehousing",
        "monthly_tons": 40,
        "rate": "18000.00",
        "rate_basis": "month",
    }
    post(
        f"{FOLLOWUP}/opportunities/{opened['id']}",
        {
            "title": "Reefer lane and a Chengdu depot",
            "amount": "780000.00",
            "currency": "CNY",
            "expected_close_date": closes,
            "lines": [reefer, depot],
            "version": opened["version"],
        },
        correlation_id,
        method="PATCH",
    )
    post(
        f"{FOLLOWUP}/opportunities/{opened['id']}/stage",
        {
            "to_stage": "negotiation",
            "win_probability": 0.8,
            "override_reason": "their logistics director signed the trial",
        },
        correlation_id,
    )
    customs = {"line_id": "c1", "origin": "Shenzhen", "mode": "customs", "monthly_shipments": 30}
    post(
        lanes,
        {
            "title": "Customs clearance at Shenzhen",
            "amount": "120000.00",
            "currency": "CNY",
            "expected_close_date": closes,
            "lines": [customs],
        },
        correlation_id,
    )
    for target, target_id, revenue in (
        ("salesperson", owner, "1500000.00"),
        ("team", f"east-{run}", "4000000.00"),
    ):
        post(
            f"{CUSTOMER}/quotas/{target}/{target_id}/{quarter}",
            {"revenue": revenue, "currency": "CNY", "freight_tons": 2000},
            method="PUT",
        )
    print(f"worked    2 opportunities with 3 service lines; quotas for {quarter} set")
    return quarter


def print_forecast(quarter: str, run: str) -> None:
    """The quarter per salesperson of this run and for their team, once the counters show every
    event."""
    deadline = time.monotonic() + WAIT_S
    while True:
        url = f"{REPORTING}/reports/forecast/period"
        people = httpx.get(url, params={"period": quarter}, headers=TOKEN, timeout=10).json()
        if people["as_of"]["counting_pending"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    params = {"period": quarter, "group": "team", "team": f"east-{run}"}
    teams = httpx.get(url, params=params, headers=TOKEN, timeout=10).json()
    print(f"\nthe quarter {quarter} (GET /reports/forecast/period on :8004), CNY:")
    print(f"  {'':<18}{'quota':>12}{'won':>12}{'commit':>12}{'pipeline':>12}{'weighted':>12}")
    ours = [r for r in people["rows"] if r["salesperson_id"].endswith(run)]
    for row in ours + teams["rows"]:
        money = row["revenue"].get("CNY", {})
        name = row.get("salesperson_id") or f"team {row['team']}"
        print(
            f"  {name:<18}{row['quota']['revenue'] if row['quota'] else 0:>12,.0f}"
            + "".join(
                f"{money.get(k, 0):>12,.0f}"
                for k in ("closed_won", "commit", "pipeline", "weighted")
            )
            + (f"   {row['attainment']['closed_won']:.0%} won" if row["attainment"] else "")
        )


if __name__ == "__main__":
    main()
