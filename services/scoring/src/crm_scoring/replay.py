"""Replay and backtest: the topics from their beginning through a chosen model version, in memory,
without touching the live state; then how well each model ranked customers against the deals that
followed. Deals reach the win model through snapshots, as live: a new one once
`--snapshot-every-deals` deals wait or one has waited `--snapshot-every-s` (in the events' time).

    uv run crm-scoring-replay --models value-v1 value-v2 [--bootstrap 127.0.0.1:9092]

It connects to Kafka as the services do (KAFKA_BOOTSTRAP_SERVERS, CRM_KAFKA_SECURITY_PROTOCOL...).
"""

import argparse
import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from crm_contracts import DealClosed, Event, parse_event
from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.kafka import kafka_options
from crm_runtime.settings import ServiceSettings

from crm_scoring.domain.assessment import Assessment, assess
from crm_scoring.engine import ResultKey, key_of, react, snapshot_due
from crm_scoring.memory_state import InMemoryState
from crm_scoring.settings import ScoringSettings

DEFAULTS = ScoringSettings.model_fields


@dataclass
class Backtest:
    model_version: str
    state: InMemoryState = field(default_factory=InMemoryState)
    emitted: list[tuple[str, ResultKey]] = field(default_factory=list)
    predictions: list[tuple[float, str, bool]] = field(
        default_factory=list
    )  # probability, tier, won
    snapshot_every_deals: int = DEFAULTS["snapshot_every_deals"].default
    snapshot_every_s: float = DEFAULTS["snapshot_every_s"].default
    built_at: datetime | None = None  # the events' time when the last snapshot was built

    async def feed(self, event: Event) -> None:
        await self.publish_if_due(event.occurred_at)
        if isinstance(event, DealClosed):
            # What the model said of this customer just before the deal closed.
            state = self.state
            before = assess(
                await state.features(event.customer_id),
                await state.model(),
                await state.strategies(),
                self.model_version,
            )
            self.predictions.append(
                (before.win.probability, before.value.tier, event.payload.outcome == "won")
            )
        self.record(await react(self.state, event, self.model_version))

    async def publish_if_due(self, now: datetime) -> None:
        waited = float("inf") if self.built_at is None else (now - self.built_at).total_seconds()
        waiting = len(self.state.pending)
        if snapshot_due(waiting, waited, self.snapshot_every_deals, self.snapshot_every_s):
            self.record(await self.state.publish(self.model_version))
            self.built_at = now

    async def settle(self) -> None:
        """The last snapshot, once the history has ended (live, it follows within seconds)."""
        self.record(await self.state.publish(self.model_version))

    def record(self, rescored: list[tuple[str, Assessment]]) -> None:
        self.emitted += [(customer_id, key_of(assessment)) for customer_id, assessment in rescored]

    def auc(self) -> float | None:
        """Area under the ROC curve of the win probability: the chance that a won deal was ranked
        above a lost one (ties count half)."""
        won = [p for p, _, outcome in self.predictions if outcome]
        lost = [p for p, _, outcome in self.predictions if not outcome]
        if not won or not lost:
            return None
        pairs = sum(1.0 if w > lo else 0.5 if w == lo else 0.0 for w in won for lo in lost)
        return pairs / (len(won) * len(lost))

    def win_rates(self) -> tuple[float | None, float | None]:
        """Share of deals won among customers in tier A before the deal, and among the rest."""

        def rate(rows: list[tuple[float, str, bool]]) -> float | None:
            return sum(1 for *_, won in rows if won) / len(rows) if rows else None

        tier_a = [row for row in self.predictions if row[1] == "A"]
        rest = [row for row in self.predictions if row[1] != "A"]
        return rate(tier_a), rate(rest)


async def read_history(
    settings: ServiceSettings, topics: tuple[str, ...] = (CUSTOMER_EVENTS, FOLLOWUP_EVENTS)
) -> list[Event]:
    """Every valid event of the topics, from their beginning to their end now, in one deterministic
    order: by occurred_at, then event_id (partitions and topics are not ordered with each other)."""
    consumer = AIOKafkaConsumer(
        *topics,
        **kafka_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        history, seen = [], set()

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    try:
                        event = parse_event(record.value)
                    except ValueError:
                        continue  # the dead-letter topic has it already
                    if event.event_id not in seen:
                        seen.add(event.event_id)
                        history.append(event)
    finally:
        await consumer.stop()
    return sorted(history, key=lambda event: (event.occurred_at, str(event.event_id)))


async def run(
    models: list[str],
    history: list[Event],
    snapshot_every_deals: int = DEFAULTS["snapshot_every_deals"].default,
    snapshot_every_s: float = DEFAULTS["snapshot_every_s"].default,
) -> list[Backtest]:
    """Each model's backtest of the history, with the last snapshot built at its end."""
    tests = [
        Backtest(
            model, snapshot_every_deals=snapshot_every_deals, snapshot_every_s=snapshot_every_s
        )
        for model in models
    ]
    for event in history:
        for test in tests:
            await test.feed(event)
    for test in tests:
        await test.settle()
    return tests


def report(tests: list[Backtest], events: int) -> str:
    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [
        f"{events} events replayed",
        f"{'model':<12}{'scored':>8}{'deals':>7}{'AUC':>8}{'A win rate':>12}{'rest':>8}",
    ]
    for test in tests:
        tier_a, rest = test.win_rates()
        lines.append(
            f"{test.model_version:<12}{len(test.emitted):>8}{len(test.predictions):>7}"
            f"{show(test.auc()):>8}{show(tier_a):>12}{show(rest):>8}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["value-v1"])
    parser.add_argument(
        "--snapshot-every-deals", type=int, default=DEFAULTS["snapshot_every_deals"].default
    )
    parser.add_argument(
        "--snapshot-every-s", type=float, default=DEFAULTS["snapshot_every_s"].default
    )
    parser.add_argument("--bootstrap", help="else KAFKA_BOOTSTRAP_SERVERS, as the services")
    args = parser.parse_args()
    settings = ServiceSettings(service_name="scoring-replay")
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": args.bootstrap})
    history = asyncio.run(read_history(settings))
    tests = run(
        args.models,
        history,
        snapshot_every_deals=args.snapshot_every_deals,
        snapshot_every_s=args.snapshot_every_s,
    )
    print(report(asyncio.run(tests), len(history)))


if __name__ == "__main__":
    main()
