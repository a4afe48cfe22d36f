"""Reporting's read models at a given size, for the report latency bench: profiles, facts and
timeline entries shaped as the projections write them, inserted in bulk (projecting millions of
events one by one would take hours). Seeded: the same size gives the same data."""

import asyncio
import bisect
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_reporting import adapters
from crm_reporting.bands import freight_band
from crm_runtime.pipeline import DEFAULT_PIPELINE, DEFAULT_SERVICE_MODES
from pymongo.asynchronous.database import AsyncDatabase

REGIONS = [f"region-{n}" for n in range(8)]
INDUSTRIES = [f"industry-{n}" for n in range(10)]
CHANNELS = ["visit", "call", "meeting", "email"]
SALESPEOPLE = [f"sp-{n}" for n in range(200)]
STAGES = DEFAULT_PIPELINE.open_stages()
MODES = list(DEFAULT_SERVICE_MODES)
ORIGINS = [f"city-{n}" for n in range(40)]
DAYS = 730  # the history spans two years
CHUNK = 10_000
Doc = dict[str, Any]


class History:
    def __init__(self, customers: int, seed: int, days: int = DAYS) -> None:
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)
        self.customers = customers
        self.span_s = days * 86400
        # Each customer's creation, as seconds before now, the oldest first (c-0).
        ages = sorted((self.rng.uniform(0, self.span_s) for _ in range(customers)), reverse=True)
        self.age = ages
        self._older = [-age for age in ages]  # ascending, for bisect

    def moment(self) -> tuple[int, datetime]:
        """A customer and a moment after its creation: the moment spread evenly over the
        history, the customer among those created by then (as many facts a day early as late,
        and more of them for older customers, as in a sales force's records)."""
        before_s = self.rng.uniform(0, self.span_s)
        created_by_then = bisect.bisect_right(self._older, -before_s)
        customer = self.rng.randrange(max(created_by_then, 1))
        return customer, self.now - timedelta(seconds=min(before_s, self.age[customer]))

    def profiles(self) -> Iterator[Doc]:
        rng = self.rng
        for n in range(self.customers):
            tons = rng.uniform(0, 800)
            profile: Doc = {
                "_id": f"c-{n}",
                "owner_id": rng.choice(SALESPEOPLE),
                "status": "archived" if rng.random() < 0.03 else "active",
                "created_at": self.now - timedelta(seconds=self.age[n]),
                "segment": {
                    "tier": rng.choice("ABCD"),
                    "region": rng.choice(REGIONS),
                    "industry": rng.choice(INDUSTRIES),
                    "size": rng.choice(["small", "medium", "large"]),
                    "monthly_freight_volume_tons": tons,
                    "band": freight_band(tons),
                },
            }
            if n and rng.random() < 0.005:
                profile["merged_into"] = f"c-{rng.randrange(n)}"
            yield profile

    def followups(self, count: int) -> Iterator[tuple[str, Doc]]:
        for n in range(count):
            customer, at = self.moment()
            fact = {
                "_id": f"f-{n}",
                "customer_id": f"c-{customer}",
                "account_id": f"c-{customer}",
                "salesperson_id": self.rng.choice(SALESPEOPLE),
                "channel": self.rng.choice(CHANNELS),
                "at": at,
                "revoked": self.rng.random() < 0.01,
                "version": 0,
                "details": {"subject": "a follow-up", "followup_id": f"f-{n}"},
            }
            yield adapters.FOLLOWUPS, fact
            yield (
                adapters.TIMELINE,
                {
                    "_id": f"e-{n}",
                    "customer_id": fact["customer_id"],
                    "kind": "followup",
                    "at": fact["at"],
                    "details": fact["details"],
                    "version": 0,
                },
            )

    def pipeline(self, count: int) -> Iterator[tuple[str, Doc]]:
        """`count` opportunities, most with a proposal, the closed ones with their deal."""
        rng = self.rng
        for n in range(count):
            customer, opened = self.moment()
            account = {"customer_id": f"c-{customer}", "account_id": f"c-{customer}"}
            reached = STAGES[: rng.randrange(1, len(STAGES) + 1)]
            final = rng.choice(["won", "lost", None, None])
            visits = [*reached, final] if final else reached
            step = (self.now - opened) / (len(visits) + 1)
            history = [{"stage": s, "at": opened + step * i} for i, s in enumerate(visits)]
            yield (
                adapters.OPPORTUNITIES,
                {
                    "_id": f"o-{n}",
                    **account,
                    "opened_at": opened,
                    "history": history,
                    "stage": visits[-1],
                    "stage_at": history[-1]["at"],
                    "win_probability": DEFAULT_PIPELINE.probability(visits[-1]),
                    "closed": final is not None,
                    **self.terms(opened),
                },
            )
            if rng.random() < 0.75:
                yield (
                    adapters.PROPOSALS,
                    {
                        "_id": f"p-{n}",
                        **account,
                        "opportunity_id": f"o-{n}",
                        "price": round(rng.uniform(1_000, 200_000), 2),
                        "currency": rng.choice(["CNY", "CNY", "USD"]),
                        "created_at": opened + step / 2,
                        "status": {"won": "accepted", "lost": "rejected"}.get(final, "open"),
                    },
                )
            if final:
                yield (
                    adapters.DEALS,
                    {
                        "_id": f"d-{n}",
                        **account,
                        "opportunity_id": f"o-{n}",
                        "salesperson_id": rng.choice(SALESPEOPLE),
                        "outcome": final,
                        "amount": round(rng.uniform(1_000, 200_000), 2),
                        "currency": "CNY",
                        "freight_tons": round(rng.uniform(0, 500), 1),
                        "product_lines": rng.sample(["road", "rail", "sea", "air"], 2)
                        if rng.random() < 0.2
                        else [rng.choice(["road", "rail", "sea", "air"])],
                        "closed_at": history[-1]["at"],
                        "lines": self.lines() if rng.random() < 0.5 else [],
                    },
                )

    def quotas(self) -> Iterator[tuple[str, Doc]]:
        """A quota per salesperson for each quarter of the history."""
        for person in SALESPEOPLE:
            for year in {self.now.year - 2, self.now.year - 1, self.now.year}:
                for quarter in range(1, 5):
                    period = f"{year}-Q{quarter}"
                    yield (
                        adapters.QUOTAS,
                        {
                            "_id": f"salesperson:{person}:{period}",
                            "target": "salesperson",
                            "target_id": person,
                            "period": period,
                            "revenue": "2000000.00",
                            "currency": "CNY",
                            "freight_tons": 5000.0,
                            "version": 1,
                        },
                    )

    def lines(self) -> list[Doc]:
        rng = self.rng
        return [
            {
                "mode": rng.choice(MODES),
                "origin": rng.choice(ORIGINS),
                "monthly_tons": round(rng.uniform(0, 200), 1),
            }
            for _ in range(rng.randrange(1, 4))
        ]

    def terms(self, opened: datetime) -> Doc:
        """Half the opportunities with an amount; most with an expected close date up to half a
        year after they opened, an owner, and service lines."""
        rng = self.rng
        amount = round(rng.uniform(1_000, 500_000), 2) if rng.random() < 0.5 else None
        close = opened + timedelta(days=rng.uniform(0, 180))
        return {
            "amount": amount,
            "currency": "CNY" if amount else None,
            "expected_close_date": close.date().isoformat() if rng.random() < 0.9 else None,
            "owner_id": rng.choice(SALESPEOPLE),
            "lines": self.lines() if rng.random() < 0.7 else [],
        }


async def _insert(db: AsyncDatabase[Doc], docs: Iterator[tuple[str, Doc]]) -> dict[str, int]:
    """Inserts in chunks, one chunk in flight while the next is generated."""
    counts: dict[str, int] = {}
    chunks: dict[str, list[Doc]] = {}
    pending: list[asyncio.Task[Any]] = []

    async def flush(collection: str) -> None:
        chunk, chunks[collection] = chunks[collection], []
        pending.append(asyncio.create_task(db[collection].insert_many(chunk, ordered=False)))
        if len(pending) > 2:
            await pending.pop(0)

    for collection, doc in docs:
        chunks.setdefault(collection, []).append(doc)
        counts[collection] = counts.get(collection, 0) + 1
        if len(chunks[collection]) == CHUNK:
            await flush(collection)
    for collection in list(chunks):
        if chunks[collection]:
            await flush(collection)
    await asyncio.gather(*pending)
    return counts


async def fill(
    db: AsyncDatabase[Doc], customers: int, facts: int, seed: int = 7, days: int = DAYS
) -> dict[str, int]:
    """`customers` profiles and about `facts` facts (half of them follow-ups, each with its
    timeline entry); returns how many documents each collection got."""
    history = History(customers, seed, days)
    opportunities = facts * 2 // 9  # with their proposals and deals, about half the facts
    counts = await _insert(db, ((adapters.PROFILES, p) for p in history.profiles()))
    counts |= await _insert(db, history.pipeline(opportunities))
    rest = facts - sum(counts.get(c, 0) for c in adapters.FACTS)
    counts |= await _insert(db, history.followups(rest))
    counts |= await _insert(db, history.quotas())
    return counts
