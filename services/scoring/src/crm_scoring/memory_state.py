"""ScoringState in dictionaries: the live service's logic with nothing stored, for replays and
backtests."""

from dataclasses import dataclass, field

from crm_scoring.domain.features import Features, industry_key
from crm_scoring.domain.strategy import Strategy
from crm_scoring.domain.win_probability import WinCounts, learn
from crm_scoring.engine import ResultKey


@dataclass
class InMemoryState:
    known: dict[str, Features] = field(default_factory=dict)
    results: dict[str, ResultKey] = field(default_factory=dict)
    win_counts: WinCounts = field(default_factory=WinCounts)
    catalogue: list[Strategy] = field(default_factory=list)

    async def features(self, customer_id: str) -> Features:
        return self.known.get(customer_id, Features())

    async def save_features(self, customer_id: str, features: Features) -> None:
        self.known[customer_id] = features

    async def counts(self) -> WinCounts:
        return self.win_counts

    async def learn(self, segment: dict[str, str], outcome: str) -> None:
        self.win_counts = learn(self.win_counts, segment, outcome)

    async def strategies(self) -> list[Strategy]:
        active = [strategy for strategy in self.catalogue if strategy.active]
        return sorted(active, key=lambda strategy: strategy.strategy_id)

    async def last(self, customer_id: str) -> ResultKey | None:
        return self.results.get(customer_id)

    async def save_last(self, customer_id: str, key: ResultKey) -> None:
        self.results[customer_id] = key

    async def similar(
        self, customer_id: str, industry: str, limit: int
    ) -> list[tuple[str, Features]]:
        wanted = industry_key(industry)
        return [
            (other_id, features)
            for other_id, features in sorted(self.known.items())
            if other_id != customer_id and industry_key(features.industry) == wanted
        ][:limit]
