"""What every service tells Prometheus (`/metrics`) and its readiness (`/ready`): events applied by
outcome, dead letters by reason, HTTP latency, outbox events published and set aside, and the
consumer lag."""

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from crm_runtime.kafka import kafka_options, partitions_of
from crm_runtime.settings import ServiceSettings

if TYPE_CHECKING:  # the service builds its readiness: only its type is needed here
    from crm_runtime.service import Service

READY_TIMEOUT_S = 3.0


class Metrics:
    """One registry per service instance (tests run several services in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "crm_events_total",
            "Consumed events by topic and outcome",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "crm_dead_letters_total",
            "Records sent to a dead-letter topic",
            ["reason"],
            registry=self.registry,
        )
        self.published = Counter(
            "crm_outbox_published_total",
            "Events the outbox relay published",
            registry=self.registry,
        )
        self.set_aside = Counter(
            "crm_outbox_set_aside_total",
            "Events the outbox relay set aside because Kafka will never take them",
            registry=self.registry,
        )
        self.requests = Histogram(
            "crm_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "crm_consumer_lag",
            "Records not yet applied, per topic and partition",
            ["topic", "partition"],
            registry=self.registry,
        )


async def consumer_lag(settings: ServiceSettings, topics: list[str]) -> dict[str, int]:
    """Records behind the end of each partition for the service's group
    ("topic:partition" -> count)."""
    timeout_ms = int(READY_TIMEOUT_S * 1000)
    options = kafka_options(settings)
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=timeout_ms)
    reader = AIOKafkaConsumer(**options, group_id=None, request_timeout_ms=timeout_ms)
    await admin.start()
    await reader.start()
    try:
        partitions = await partitions_of(admin, topics)  # the one admin client for all it asks
        committed = await admin.list_consumer_group_offsets(settings.consumer_group)
        ends = await reader.end_offsets(partitions) if partitions else {}
        return {
            f"{tp.topic}:{tp.partition}": end - (committed[tp].offset if tp in committed else 0)
            for tp, end in ends.items()
        }
    finally:
        await reader.stop()
        await admin.close()


class Readiness:
    """Caches the last check for a few seconds: a probe every second must not hammer the broker."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._checked_at = 0.0
        self._result: tuple[bool, dict[str, Any]] | None = None

    async def check(self, service: "Service") -> tuple[bool, dict[str, Any]]:
        if self._result is not None and time.monotonic() - self._checked_at < self.ttl_s:
            return self._result
        report: dict[str, Any] = {}
        ok = True
        try:
            await asyncio.wait_for(service.client.admin.command("ping"), READY_TIMEOUT_S)
            report["mongodb"] = "ok"
        except Exception as error:
            ok, report["mongodb"] = False, repr(error)
        if not service.topics:  # a process of workers alone: it needs MongoDB only
            self._result, self._checked_at = (ok, report), time.monotonic()
            return self._result
        try:
            topics = list(service.topics)
            lag = await asyncio.wait_for(
                consumer_lag(service.settings, topics),
                READY_TIMEOUT_S * 2,
            )
            report["kafka"] = "ok"
            report["lag"] = {"total": sum(lag.values()), "partitions": lag}
            for key, value in lag.items():
                topic, partition = key.rsplit(":", 1)
                service.metrics.lag.labels(topic, partition).set(value)
        except Exception as error:
            ok, report["kafka"] = False, repr(error)
        self._result, self._checked_at = (ok, report), time.monotonic()
        return self._result
