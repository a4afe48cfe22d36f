"""Histories of events shared by tests in several folders (on pytest's pythonpath)."""

import random
from datetime import UTC, datetime, timedelta

from crm_contracts import (
    CustomerCreated,
    CustomerUpdated,
    DealClosed,
    Event,
    FinancialsRecorded,
    StageChanged,
    VisitLogged,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)
INDUSTRIES = ["cold chain", "automotive", "electronics", "chemicals", "retail"]
CUSTOMER_TOPIC_EVENTS = (CustomerCreated, CustomerUpdated, FinancialsRecorded)


def scored_history(customers: int = 45, seed: int = 17) -> list[Event]:
    """Customers created, some moving region or size, with financials, follow-ups, stage moves
    and deals (a few closed twice, the second time with another outcome), in time order."""
    rng = random.Random(seed)
    events: list[Event] = []
    for n in range(customers):
        customer_id, at = f"det-{n:03d}", T0 + timedelta(hours=n)
        industry = INDUSTRIES[n % len(INDUSTRIES)]
        events.append(
            CustomerCreated(
                producer="customer",
                customer_id=customer_id,
                occurred_at=at,
                payload={
                    "name": f"Det {n}",
                    "industry": industry,
                    "region": rng.choice(["east", "south", "north"]),
                    "size": rng.choice(["small", "medium", "large"]),
                    "monthly_freight_volume_tons": rng.choice([30.0, 120.0, 600.0, 1500.0]),
                },
            )
        )
    for day in range(1, 9):
        for n in range(customers):
            customer_id = f"det-{n:03d}"
            at = T0 + timedelta(days=day, minutes=n * 7)
            kind = rng.random()
            if kind < 0.45:
                events.append(
                    VisitLogged(
                        producer="followup",
                        customer_id=customer_id,
                        occurred_at=at,
                        payload={
                            "followup_id": f"fu-{day}-{n}",
                            "salesperson_id": "sp-1",
                            "channel": rng.choice(["visit", "call", "email"]),
                            "subject": "det",
                            "started_at": at,
                            "ended_at": at + timedelta(hours=1),
                        },
                    )
                )
            elif kind < 0.55:
                events.append(
                    StageChanged(
                        producer="followup",
                        customer_id=customer_id,
                        occurred_at=at,
                        payload={
                            "opportunity_id": f"op-{n}",
                            "from_stage": "qualified",
                            "to_stage": "proposal",
                            "win_probability": 0.5,
                            "seconds_in_previous_stage": 60,
                        },
                    )
                )
            elif kind < 0.62:
                events.append(
                    FinancialsRecorded(
                        producer="customer",
                        customer_id=customer_id,
                        occurred_at=at,
                        payload={
                            "statements": [{"year": 2025, "revenue": "1000"}],
                            "ratios": [{"year": 2025, "current_ratio": rng.uniform(0.5, 2.0)}],
                        },
                    )
                )
            elif kind < 0.66:
                events.append(
                    CustomerUpdated(
                        producer="customer",
                        customer_id=customer_id,
                        occurred_at=at,
                        payload={
                            "version": day + 1,
                            "changed": ["region", "size"],
                            "fields": {"region": "west", "size": rng.choice(["small", "large"])},
                        },
                    )
                )
            else:
                # Some industries win more often, so that the model comes to tell them apart.
                won = rng.random() < 0.25 + 0.15 * (n % len(INDUSTRIES))
                deal_id = f"deal-{day}-{n}"
                closings = [won, not won] if rng.random() < 0.1 else [won]
                for offset, outcome in enumerate(closings):
                    facts = (
                        {"amount": "1000", "currency": "CNY"}
                        if outcome
                        else {"lost_reason": "price"}
                    )
                    events.append(
                        DealClosed(
                            producer="followup",
                            customer_id=customer_id,
                            occurred_at=at + timedelta(minutes=offset),
                            payload={
                                "deal_id": deal_id,
                                "outcome": "won" if outcome else "lost",
                                **facts,
                            },
                        )
                    )
    return events
