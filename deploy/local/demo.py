"""A small demo flow through the running stack (stack.py up): HTTP in, Kafka across, HTTP out.

Creates three customers, logs follow-ups, closes one deal won and one lost, then prints what
reporting says of each customer once the scores have arrived.
"""

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

CUSTOMER, FOLLOWUP, REPORTING = "http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8004"
ADMIN_PASSWORD = Path(__file__).resolve().parents[2] / ".local" / "admin-password"
WAIT_S = 60
TOKEN: dict[str, str] = {}


def post(url: str, body: dict, correlation_id: str | None = None) -> dict:
    headers = {**TOKEN, "X-Correlation-ID": correlation_id or str(uuid.uuid4())}
    response = httpx.post(url, json=body, headers=headers, timeout=10)
    if response.status_code >= 400:
        sys.exit(f"{url} answered {response.status_code}: {response.text}")
    return response.json()


def login() -> None:
    password = ADMIN_PASSWORD.read_text().strip()
    answer = post(f"{CUSTOMER}/auth/login", {"username": "admin", "password": password})
    TOKEN["Authorization"] = f"Bearer {answer['access_token']}"


def visit(customer_id: str, subject: str, hours_ago: int, correlation_id: str) -> None:
    end = datetime.now(UTC) - timedelta(hours=hours_ago)
    post(f"{FOLLOWUP}/visits", {
        "customer_id": customer_id, "salesperson_id": "sp-demo", "channel": "visit", "subject": subject,
        "started_at": (end - timedelta(hours=1)).isoformat(), "ended_at": end.isoformat(),
    }, correlation_id)


def main() -> None:
    login()
    run = uuid.uuid4().hex[:6]
    for name, regions, seniority in (("Li Na", ["east", "south"], 3), ("Zhang Wei", ["east", "west"], 1),
                                     ("Aygul Tursun", ["west"], 2)):
        person = post(f"{CUSTOMER}/salespeople", {"salesperson_id": f"{name.split()[0].lower()}-{run}",
                                                  "name": name, "regions": regions, "capacity": 20,
                                                  "seniority": seniority})
        print(f"salesperson {person['salesperson_id']:<16} regions {', '.join(regions):<12} seniority {seniority}")
    flows = []
    for name, size, nature, tons, region in [
        ("Huadong Cold Chain", "large", "state_owned", 1200, "east"),
        ("Xinjiang Mining Group", "medium", "group_company", 400, "west"),
        ("Pearl River Electronics", "small", "private_enterprise", 60, "east"),
    ]:
        correlation_id = str(uuid.uuid4())
        created = post(f"{CUSTOMER}/customers", {"name": f"{name} ({run})", "size": size, "nature": nature,
                                                 "region": region, "monthly_freight_volume_tons": tons},
                       correlation_id)
        customer, assignment = created["customer"], created["assignment"]
        flows.append((customer["id"], correlation_id))
        print(f"created   {customer['name']:<34} {assignment['why']}")

    (first, c1), (second, c2), (third, c3) = flows
    visit(first, "site visit: warehouse tour", 48, c1)
    visit(first, "proposal review", 24, c1)
    post(f"{FOLLOWUP}/deals", {"customer_id": first, "outcome": "won", "amount": "1850000.00", "currency": "CNY",
                               "monthly_freight_volume_tons": 900}, c1)
    visit(second, "first call", 12, c2)
    post(f"{FOLLOWUP}/deals", {"customer_id": second, "outcome": "lost", "lost_reason": "price",
                               "competitor": "SF Express"}, c2)
    visit(third, "intro meeting", 2, c3)
    print("logged    4 follow-ups, 1 deal won, 1 deal lost")

    expected = {first: (2, 1, 0), second: (1, 0, 1), third: (1, 0, 0)}
    deadline = time.monotonic() + WAIT_S
    reports: dict[str, dict] = {}
    while time.monotonic() < deadline and len(reports) < len(flows):
        for customer_id, (followups, won, lost) in expected.items():
            response = httpx.get(f"{REPORTING}/customers/{customer_id}", headers=TOKEN, timeout=10)
            report = response.json() if response.status_code == 200 else {}
            counts = report.get("counts", {})
            score = report.get("latest_score") or {}
            if (counts.get("followups"), counts.get("deals_won"), counts.get("deals_lost")) == (followups, won, lost) \
                    and score.get("occurred_at", "") >= max(e["occurred_at"] for e in report["timeline"]):
                reports[customer_id] = report
        time.sleep(0.5)
    if len(reports) < len(flows):
        sys.exit(f"reporting did not catch up within {WAIT_S} s: see .local/services/*.log")

    print("\nwhat reporting says (GET /customers/{id} on :8004):")
    for customer_id, _ in flows:
        report = reports[customer_id]
        score, counts = report["latest_score"], report["counts"]
        print(f"\n  {report['profile']['name']}  (owner {report['owner_id']})")
        print(f"    score {score['score']}  tier {score['tier']}  win probability {score['win_probability']:.0%}")
        print(f"    follow-ups {counts['followups']}  deals won {counts['deals_won']}  lost {counts['deals_lost']}")
        print(f"    why: {'; '.join(score['reasons'])}")
        for entry in report["timeline"]:
            details = entry["details"]
            what = details.get("subject") or f"deal {details.get('outcome')}"
            print(f"    {entry['at'][:16]}  {entry['kind']:<8} {what}")
    print("\nthe stack stays up: `make down` stops it")


if __name__ == "__main__":
    main()
