"""ScoringState in dictionaries: the live service's logic with nothing stored, for replays and
backtests. Deals wait for the next snapshot as they do live; `publish` builds it from them and
re-scores whoever it moves, as the live service's single writer does."""

from dataclasses import dataclass, field

from crm_scoring.domain.assessment import Assessment
from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Strategy
from crm_scoring.domain.win_probability import WinModel, keys_for, recount
from crm_scoring.engine import ResultKey, Scored, rescore_moved


@dataclass
class LearnedDeal:
    customer_id: str
    outcome: str  # the first one: a correction changes the features, not what was learnt
    counted_under: list[str] | None = None  # the keys the latest snapshot counts it under


@dataclass
class InMemoryState:
    known: dict[str, Features] = field(default_factory=dict)
    results: dict[str, ResultKey] = field(default_factory=dict)
    scored_with: dict[str, int] = field(default_factory=dict)
    deals: dict[str, LearnedDeal] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)  # deals to count (again) in the next snapshot
    snapshot: WinModel = field(default_factory=WinModel)
    catalogue: list[Strategy] = field(default_factory=list)

    async def features(self, customer_id: str) -> Features:
        return self.known.get(customer_id, Features())

    async def save_features(self, customer_id: str, features: Features) -> None:
        before = self.known.get(customer_id)
        self.known[customer_id] = features
        if before is not None and before.segment() != features.segment():
            # A deal counts under its customer's segment as it is now.
            self.pending |= {
                deal_id for deal_id, deal in self.deals.items() if deal.customer_id == customer_id
            }

    async def learn(self, deal_id: str, customer_id: str, outcome: str) -> None:
        if deal_id not in self.deals:
            self.deals[deal_id] = LearnedDeal(customer_id, outcome)
            self.pending.add(deal_id)

    async def model(self) -> WinModel:
        return self.snapshot

    async def strategies(self) -> list[Strategy]:
        active = [strategy for strategy in self.catalogue if strategy.active]
        return sorted(active, key=lambda strategy: strategy.strategy_id)

    async def last(self, customer_id: str) -> ResultKey | None:
        return self.results.get(customer_id)

    async def save_last(self, customer_id: str, key: ResultKey, snapshot: int) -> None:
        self.results[customer_id] = key
        self.scored_with[customer_id] = snapshot

    def build(self) -> WinModel | None:
        """The next snapshot, from the deals recorded or moved since the last one; None when
        there are none."""
        if not self.pending:
            return None
        changes = []
        for deal_id in sorted(self.pending):
            deal = self.deals[deal_id]
            now = keys_for(self.known.get(deal.customer_id, Features()).segment())
            if now != deal.counted_under:
                changes.append((deal.outcome, deal.counted_under, now))
                deal.counted_under = now
        self.pending.clear()
        self.snapshot = WinModel(self.snapshot.version + 1, recount(self.snapshot.counts, changes))
        return self.snapshot

    async def publish(self, model_version: str) -> list[tuple[str, Assessment]]:
        """Builds the next snapshot and re-scores every customer it moves, by id."""
        if self.build() is None:
            return []
        customers = [
            Scored(customer_id, self.known.get(customer_id, Features()).segment(), last)
            for customer_id, last in sorted(self.results.items())
        ]
        return await rescore_moved(self, customers, model_version)
