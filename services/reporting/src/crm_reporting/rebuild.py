"""Rebuilds reporting's read models from the topics while the live ones keep serving, then swaps.

    uv run crm-reporting-rebuild

1. Replays every topic from its beginning into a fresh database (`<live>_rebuild`), through the
   same projections and inbox as the live consumer; then what arrived meanwhile; and counts it
   for the reports at once (at_once.py).
2. Pauses the live consumers and the counting upkeep (runtime fences: a batch in flight commits
   first, none after), replays the last records into the fresh database, and swaps: each rebuilt
   collection, the inbox with them, replaces the live one (MongoDB renameCollection, one by one).
   Paused, no live batch can commit between two renames (its effect in one generation, its inbox
   entry in the other: applied twice, or lost), nor any counting.
3. Lifts the pause: the live consumers go on from their offsets, and the rebuilt inbox makes
   anything the replay applied already count once.
"""

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from crm_contracts import ALL_TOPICS
from crm_runtime import fences
from crm_runtime.consumer import EventConsumer
from crm_runtime.dead_letters import DeadLetters
from crm_runtime.fences import fence_of
from crm_runtime.handlers import WiredHandlers, wire
from crm_runtime.kafka import kafka_options, topic_partitions
from crm_runtime.logs import configure_logging
from crm_runtime.records import Record
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import INBOX, Store
from pymongo import AsyncMongoClient

from crm_reporting import adapters, at_once, counters
from crm_reporting.bootstrap import spec
from crm_reporting.settings import ReportingSettings

log = structlog.get_logger(__name__)
# The longest the live consumers stay paused should the rebuild die during its swap.
PAUSE_S = 300
READ_MODELS = (
    adapters.PROFILES,
    adapters.TIMELINE,
    *adapters.FACTS,
    adapters.QUOTAS,
    adapters.SALESPEOPLE,
    adapters.COUNTERS,
    adapters.COUNTED,
    adapters.TO_COUNT,
    adapters.CROSS_SPANS,
    INBOX,
)


async def _no_publish(*_: Any) -> Any:
    """Bad records were dead-lettered by the live consumer already: the rebuild only counts them."""
    done = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


Positions = dict[TopicPartition, int]


def _handlers() -> WiredHandlers:
    """The live service's handlers, wired the same way (the runtime's own, such as user access,
    change nothing reporting reads)."""
    parts = spec()
    return wire(parts.handlers, parts.dependencies)


async def _replay(
    consumer: EventConsumer, settings: ServiceSettings, start: Positions | None
) -> tuple[Positions, int]:
    """Applies every record from `start` (or each partition's beginning) to the end as it is now;
    returns where it stopped and how many records it read."""
    # earliest: a partition whose position resolves before the seek below must not start at its end.
    reader = AIOKafkaConsumer(
        **kafka_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:
        partitions = await topic_partitions(settings, list(ALL_TOPICS))
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        for tp in partitions:
            if start and tp in start:
                reader.seek(tp, start[tp])
        await reader.seek_to_beginning(*[tp for tp in partitions if not start or tp not in start])
        read = 0
        while any([await reader.position(tp) < end for tp, end in ends.items()]):
            batches = await reader.getmany(timeout_ms=1000, max_records=500)
            records = [
                Record.of(r) for tp, rs in batches.items() for r in rs if r.offset < ends[tp]
            ]
            await consumer.process_batch(records)
            read += len(records)
        return ends, read
    finally:
        await reader.stop()


async def _rename(client: AsyncMongoClient[dict[str, Any]], source: str, to: str) -> None:
    await client.admin.command("renameCollection", source, to=to, dropTarget=True)


async def rebuild(settings: ReportingSettings) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(), tz_aware=True
    )
    live, target = settings.database_name, f"{settings.database_name}_rebuild"
    try:
        await client.drop_database(target)
        fresh = Store(client, target)
        await fresh.ensure_indexes()
        await adapters.create_indexes(fresh)
        dead = DeadLetters(
            _no_publish, fresh, settings.consumer_group + ".rebuild", settings.retry_max_backoff_s
        )
        rebuilding = EventConsumer(fresh, _handlers(), dead)
        replayed, read = await _replay(rebuilding, settings, None)
        # What arrived meanwhile, the live consumers still running: the pause stays short.
        replayed, caught_up = await _replay(rebuilding, settings, replayed)
        # Most of it before the pause, and at once: nothing else writes to the fresh database.
        await at_once.count_at_once(fresh)
        live_store = Store(client, live)
        partitions = await topic_partitions(settings, list(ALL_TOPICS))
        # The consumers', and the counting upkeep's (its totals and what it counted must not be
        # swapped in one at a time under it).
        every = [fence_of(tp.topic, tp.partition) for tp in partitions] + [counters.COUNTING_FENCE]
        await live_store.run(lambda uow: fences.pause(uow.db, uow.session, every, PAUSE_S))
        try:
            _, last = await _replay(rebuilding, settings, replayed)
            await counters.count_all_noted(fresh)
            await counters.mark_counted(fresh)  # the replay counted every account
            rebuilt = await client[target].list_collection_names()
            for name in READ_MODELS:
                if name in rebuilt:
                    await _rename(client, f"{target}.{name}", f"{live}.{name}")
                else:  # nothing the replay read wrote there: what the live one holds is stale
                    await client[live].drop_collection(name)
        finally:
            await fences.resume(live_store.db)
        caught_up += last
        await client.drop_database(target)
        summary = {"replayed": read, "caught_up": caught_up, "database": live}
        log.info("read models rebuilt", **summary)
        return summary
    finally:
        await client.close()


def main() -> None:
    settings = ReportingSettings()
    configure_logging("reporting-rebuild", settings.log_level)
    print(asyncio.run(rebuild(settings)))


if __name__ == "__main__":
    main()
