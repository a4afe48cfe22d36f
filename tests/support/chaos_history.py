"""The fault suite's history (issue 13), seeded: what a sales force does through the APIs, what the
ERP and the call centre publish straight onto Kafka, duplicates and junk among it; and what the
reports must then say, computed here from the history alone (`expected`), not by the services.

HTTP work comes as chains, one per customer: each step names its service, path and body, with the
customer's and opportunity's ids filled in from earlier answers (`{customer}`, `{opportunity}`),
and an Idempotency-Key of its own, so that a client may send it again after losing the answer."""

import itertools
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bad_records import BadRecord, bad_record, drawn
from crm_contracts import (
    CustomerCreated,
    DealClosed,
    Event,
    FinancialsRecorded,
    OpportunityOpened,
    StageChanged,
    VisitLogged,
    topic_of,
)

STAGES = ["qualified", "needs_analysed", "proposal", "negotiation"]
WIN_PROBABILITY = {"qualified": 0.1, "needs_analysed": 0.25, "proposal": 0.5, "negotiation": 0.75}
REGIONS = ["east", "south", "north", "west"]
INDUSTRIES = ["cold chain", "automotive", "electronics", "chemicals", "retail"]
CHANNELS = ["visit", "call", "email", "meeting"]
SALESPEOPLE = [f"sp-{n}" for n in range(1, 7)]


@dataclass(frozen=True)
class Size:
    http_customers: int
    erp_customers: int
    kills: int  # SIGKILLs of service instances, besides the broker's and mongod's


SIZES = {"reduced": Size(30, 150, 5), "full": Size(320, 2000, 12)}


@dataclass(frozen=True)
class Step:
    service: str  # customer or followup
    path: str
    body: dict[str, Any] | None
    key: str
    takes: str | None = None  # what the answer's id is: "customer" or "opportunity"


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes


@dataclass
class Expected:
    """What the reports must say, from the history: per salesperson, follow-ups by channel, deals
    won and lost, revenue won (CNY); per region, customers and freight; the opportunities opened
    and how many reached each open stage."""

    followups: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    deals: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    revenue: Counter[str] = field(default_factory=Counter)
    regions: Counter[str] = field(default_factory=Counter)
    freight: Counter[str] = field(default_factory=Counter)
    opportunities: int = 0
    reached: Counter[str] = field(default_factory=Counter)


@dataclass
class History:
    salespeople: list[dict[str, Any]]
    chains: list[list[Step]]
    records: list[Record]  # valid events, duplicates and junk, in the order to publish
    events: int  # valid events among them, each once
    duplicates: int
    junk: list[BadRecord]
    expected: Expected


def generate(size: Size, now: datetime, seed: int = 13) -> History:
    rng = random.Random(seed)
    expected = Expected()
    run = uuid.UUID(int=rng.getrandbits(128)).hex[:6]

    def key() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128)))

    salespeople = [
        {
            "salesperson_id": person,
            "name": f"Salesperson {person}",
            "regions": REGIONS,
            "capacity": 10_000,
            "seniority": 1 + n % 3,
        }
        for n, person in enumerate(SALESPEOPLE)
    ]
    chains = [_chain(rng, key, expected, now, f"{run}-{n}") for n in range(size.http_customers)]
    events: list[Event] = []
    for n in range(size.erp_customers):
        events += _erp_customer(rng, expected, now, f"erp-{run}-{n}")
    rng.shuffle(events)  # customers interleaved; one customer's events sorted again below
    events = _in_order_per_customer(events)
    records = [Record(topic_of(e.event_type), e.key(), e.to_bytes()) for e in events]
    duplicates = [rng.choice(records[: i + 1]) for i in range(len(records)) if rng.random() < 0.05]
    junk = drawn(bad_record(), max(10, len(records) // 100))
    mixed = _interleaved(rng, records, duplicates, junk)
    return History(salespeople, chains, mixed, len(events), len(duplicates), junk, expected)


def _chain(rng: random.Random, key: Any, expected: Expected, now: datetime, tag: str) -> list[Step]:
    """One customer through the APIs: created, its opportunity opened, follow-ups, stage moves,
    perhaps a proposal, perhaps a deal."""
    region, tons = rng.choice(REGIONS), float(rng.choice([40, 150, 600, 1500]))
    expected.regions[region] += 1
    expected.freight[region] += tons
    created = {
        "name": f"Chaos Logistics {tag}",
        "size": rng.choice(["small", "medium", "large"]),
        "nature": "private_enterprise",
        "region": region,
        "industry": rng.choice(INDUSTRIES),
        "monthly_freight_volume_tons": tons,
    }
    steps = [Step("customer", "/customers", created, key(), takes="customer")]
    steps.append(
        Step("followup", "/customers/{customer}/opportunities", None, key(), "opportunity")
    )
    expected.opportunities += 1
    expected.reached["qualified"] += 1
    person = rng.choice(SALESPEOPLE)
    reach = rng.randint(0, 3)
    for stage in STAGES[1 : reach + 1]:
        steps.append(
            Step("followup", "/opportunities/{opportunity}/stage", {"to_stage": stage}, key())
        )
        expected.reached[stage] += 1
    for n in range(rng.randint(1, 4)):
        channel = rng.choice(CHANNELS)
        end = now - timedelta(days=rng.randint(1, 90), minutes=n)
        visit = {
            "customer_id": "{customer}",
            "salesperson_id": person,
            "channel": channel,
            "subject": f"follow-up {n}",
            "started_at": (end - timedelta(hours=1)).isoformat(),
            "ended_at": end.isoformat(),
        }
        steps.append(Step("followup", "/followups", visit, key()))
        expected.followups[person][channel] += 1
    if reach >= 2 and rng.random() < 0.7:
        proposal = {
            "customer_id": "{customer}",
            "opportunity_id": "{opportunity}",
            "needs": ["a weekly lane"],
            "solution": "two trucks a week",
            "price": "250000.00",
            "currency": "CNY",
        }
        steps.append(Step("followup", "/proposals", proposal, key()))
    closing = rng.random()
    if closing < 0.35 and reach >= 2:
        amount = rng.choice([100_000, 250_000, 800_000])
        won = {"outcome": "won", "amount": f"{amount}.00", "currency": "CNY"}
        steps.append(Step("followup", "/deals", _deal("{customer}", person, won), key()))
        expected.deals[person]["won"] += 1
        expected.revenue[person] += amount
    elif closing < 0.6:
        lost = {"outcome": "lost", "lost_reason": rng.choice(["price", "timing", "coverage"])}
        steps.append(Step("followup", "/deals", _deal("{customer}", person, lost), key()))
        expected.deals[person]["lost"] += 1
    return steps


def _deal(customer: str, person: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {"customer_id": customer, "salesperson_id": person, **facts}


def _erp_customer(
    rng: random.Random, expected: Expected, now: datetime, customer_id: str
) -> list[Event]:
    """A customer as the ERP and the call centre publish it: created, perhaps financials, calls,
    perhaps an opportunity with stage moves, perhaps a deal; in time order."""
    at = now - timedelta(days=rng.randint(100, 300), minutes=rng.randint(0, 1440))
    region, tons = rng.choice(REGIONS), float(rng.choice([30, 120, 600, 1500]))
    expected.regions[region] += 1
    expected.freight[region] += tons
    profile = {
        "name": f"ERP Customer {customer_id}",
        "industry": rng.choice(INDUSTRIES),
        "region": region,
        "size": rng.choice(["small", "medium", "large"]),
        "monthly_freight_volume_tons": tons,
    }
    events: list[Event] = [
        CustomerCreated(producer="erp", customer_id=customer_id, occurred_at=at, payload=profile)
    ]

    def later() -> datetime:
        nonlocal at
        at += timedelta(hours=rng.randint(1, 72))
        return at

    if rng.random() < 0.4:
        ratios = [{"year": 2025, "current_ratio": round(rng.uniform(0.5, 2.5), 2)}]
        statements = [{"year": 2025, "revenue": str(rng.randint(1, 900) * 10_000)}]
        financials = {"statements": statements, "ratios": ratios}
        events.append(
            FinancialsRecorded(
                producer="erp", customer_id=customer_id, occurred_at=later(), payload=financials
            )
        )
    person = rng.choice(SALESPEOPLE)
    for n in range(rng.randint(3, 9)):
        channel = rng.choice(CHANNELS[:3])
        started = later()
        visit = {
            "followup_id": f"cc-{customer_id}-{n}",
            "salesperson_id": person,
            "channel": channel,
            "subject": "call centre follow-up",
            "started_at": started,
            "ended_at": started + timedelta(minutes=20),
        }
        events.append(
            VisitLogged(
                producer="callcentre", customer_id=customer_id, occurred_at=started, payload=visit
            )
        )
        expected.followups[person][channel] += 1
    opportunity = f"op-{customer_id}"
    if rng.random() < 0.5:
        opened = {"opportunity_id": opportunity, "stage": "qualified", "win_probability": 0.1}
        events.append(
            OpportunityOpened(
                producer="erp", customer_id=customer_id, occurred_at=later(), payload=opened
            )
        )
        expected.opportunities += 1
        expected.reached["qualified"] += 1
        for before, stage in itertools.pairwise(STAGES[: rng.randint(1, 3)]):
            moved = {
                "opportunity_id": opportunity,
                "from_stage": before,
                "to_stage": stage,
                "win_probability": WIN_PROBABILITY[stage],
                "seconds_in_previous_stage": 3600,
            }
            events.append(
                StageChanged(
                    producer="erp", customer_id=customer_id, occurred_at=later(), payload=moved
                )
            )
            expected.reached[stage] += 1
    if rng.random() < 0.6:
        won = rng.random() < 0.45
        amount = rng.choice([50_000, 200_000, 600_000])
        facts = {"amount": f"{amount}.00", "currency": "CNY"} if won else {"lost_reason": "price"}
        deal = {
            "deal_id": f"deal-{customer_id}",
            "salesperson_id": person,
            "outcome": "won" if won else "lost",
            **facts,
        }
        events.append(
            DealClosed(producer="erp", customer_id=customer_id, occurred_at=later(), payload=deal)
        )
        expected.deals[person]["won" if won else "lost"] += 1
        expected.revenue[person] += amount if won else 0
    return events


def _in_order_per_customer(events: list[Event]) -> list[Event]:
    """Each customer's events in time order at the places its events took after shuffling: as
    publishers keyed by customer send them, one customer's in order, customers interleaved."""
    by_customer: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_customer[event.customer_id].append(event)
    for own in by_customer.values():
        own.sort(key=lambda e: e.occurred_at)
        own.reverse()
    return [by_customer[event.customer_id].pop() for event in events]


def _interleaved(
    rng: random.Random, records: list[Record], duplicates: list[Record], junk: list[BadRecord]
) -> list[Record]:
    """Duplicates and junk spread among the events, each duplicate after its original."""
    mixed = list(records)
    for duplicate in duplicates:
        first = mixed.index(duplicate)
        mixed.insert(rng.randint(first + 1, len(mixed)), duplicate)
    for bad in junk:
        mixed.insert(rng.randint(0, len(mixed)), Record(bad.topic, bad.key, bad.value))
    return mixed


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
