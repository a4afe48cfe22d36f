"""Builds one service process: MongoDB store, Kafka broker, outbox relay, event consumer and HTTP,
started in that order with retries, so a service comes up cleanly after a slow Kafka or MongoDB.
Its background workers run in the same process, or in one of their own (settings.workers)."""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from crm_contracts import Event, UserAccessChanged
from crm_contracts.topics import USER_EVENTS
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient

from crm_runtime import http
from crm_runtime.access import on_user_access_changed
from crm_runtime.consumer import EventConsumer
from crm_runtime.dead_letters import DeadLetters
from crm_runtime.handlers import EventHandlers, wire
from crm_runtime.kafka import ensure_topics, make_broker, sender
from crm_runtime.logs import configure_logging
from crm_runtime.metrics import Metrics, Readiness
from crm_runtime.outbox import OutboxRelay
from crm_runtime.parking import Parking
from crm_runtime.records import Record
from crm_runtime.retry import until_it_works
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import Store

log = structlog.get_logger(__name__)
STOP_GRACE_S = 10
# FastStream waits up to 15 s for the batch in flight, then aiokafka leaves the group.
BROKER_STOP_S = 45
MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its 256-bit hash


class Worker(Protocol):
    """Background work beside the consumer (scoring's model snapshots): started once the service
    is up, stopped before it goes down."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceSpec:
    """What makes one service different from another; everything else is shared."""

    title: str
    routers: Sequence[APIRouter] = ()
    subscribes_to: Sequence[str] = ()
    handlers: EventHandlers = field(default_factory=dict)
    # Injected into event handlers by parameter name (settings values, the model version...).
    dependencies: Mapping[str, Any] = field(default_factory=dict)
    create_indexes: Callable[[Store], Awaitable[None]] | None = None
    on_start: Callable[["Service"], Awaitable[None]] | None = None
    workers: Sequence[Callable[["Service"], Worker]] = ()
    releases_on: Sequence[type[Event]] = field(
        default=(),
        metadata={
            "doc": (
                "Events that make a customer known: handlers may then raise WaitForCustomer "
                "to park."
            )
        },
    )


class Service:
    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        # A process of workers alone says so in every line it logs.
        apart = "-workers" if settings.workers == "only" else ""
        configure_logging(settings.service_name + apart, settings.log_level)
        self.spec = spec
        self.settings = settings
        self.client: AsyncMongoClient[Any] = AsyncMongoClient(
            settings.mongodb_uri.get_secret_value(),
            tz_aware=True,
            serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        )
        self.store = Store(self.client, settings.database_name, settings.inbox_retention_s)
        self.broker: KafkaBroker = make_broker(settings)
        self.metrics = Metrics()
        self.readiness = Readiness()
        send = sender(self.broker)
        self.relay = OutboxRelay(
            self.store,
            send,
            poll_interval_s=settings.outbox_poll_interval_s,
            batch_size=settings.outbox_batch_size,
            counted=self.metrics.published.inc,
            counted_set_aside=self.metrics.set_aside.inc,
        )
        dead_letters = DeadLetters(
            send,
            self.store,
            settings.consumer_group,
            settings.retry_max_backoff_s,
            counted=lambda reason: self.metrics.dead_letters.labels(reason).inc(),
        )
        self.parking = (
            Parking(self.store, dead_letters, settings.park_timeout_s) if spec.releases_on else None
        )
        handlers = wire(spec.handlers, spec.dependencies)
        # Every service checks tokens, so every service learns whose access changed.
        handlers.setdefault(UserAccessChanged, []).append(on_user_access_changed)
        # A process of workers alone consumes nothing, relays nothing and serves no API.
        self.runs_events = settings.workers != "only"
        subscribes = [*spec.subscribes_to, USER_EVENTS] if self.runs_events else []
        self.topics = list(dict.fromkeys(subscribes))
        self.consumer = EventConsumer(
            self.store,
            handlers,
            dead_letters,
            handler_attempts=settings.handler_attempts,
            max_backoff_s=settings.retry_max_backoff_s,
            batch_deadline_s=settings.consumer_batch_deadline_s,
            parking=self.parking,
            releases_on=spec.releases_on,
            counted=lambda topic, outcome: self.metrics.events.labels(topic, outcome).inc(),
        )
        self._tasks: list[asyncio.Task[None]] = []
        runs_workers = settings.workers != "elsewhere"
        self.workers = [make(self) for make in spec.workers] if runs_workers else []
        if self.runs_events:
            self._subscribe()
        self.http = self._http_app()

    def _subscribe(self) -> None:
        consumer = self.consumer

        async def raw_body(message: KafkaMessage) -> bytes:
            return message.body  # never let the framework decode: bad bytes go to the DLT

        @self.broker.subscriber(
            *self.topics,
            group_id=self.settings.consumer_group,
            auto_offset_reset="earliest",
            batch=True,
            max_records=self.settings.consumer_batch_size,
            max_partition_fetch_bytes=self.settings.consumer_partition_fetch_bytes,
            fetch_max_wait_ms=self.settings.consumer_fetch_wait_ms,
            batch_timeout_ms=self.settings.consumer_fetch_wait_ms,
            # commit after the whole batch is applied; else redeliver
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=raw_body,
        )
        async def on_batch(message: KafkaMessage) -> None:
            records = [Record.of(raw) for raw in message.raw_message]
            ends = {}
            if isinstance(reader := message.consumer, AIOKafkaConsumer):
                for record in records:  # where each partition ended, known since the fetch
                    end = reader.highwater(TopicPartition(record.topic, record.partition))
                    if end is not None:
                        ends[(record.topic, record.partition)] = end
            await consumer.process_batch(records, ends)

    def _http_app(self) -> FastAPI:
        secret = self.settings.auth_secret
        if secret is None:
            raise SystemExit(
                "CRM_AUTH_SECRET is not set: every service needs the same secret to check logins"
            )
        if len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise SystemExit(
                f"CRM_AUTH_SECRET is too short: at least {MIN_SECRET_BYTES} bytes, so that tokens "
                "cannot be forged by guessing it (e.g. `openssl rand -hex 32`)"
            )
        app = FastAPI(
            title=self.spec.title,
            lifespan=self._lifespan,
            dependencies=[Depends(http.single_valued_query)],
        )
        app.state.service = self
        http.install(app, self.store, self.settings, self.metrics.requests)

        @app.get("/health", tags=["ops"])
        async def health() -> dict[str, str]:
            """Live: the process serves. No token, for probes."""
            return {"status": "ok", "service": self.settings.service_name}

        @app.get(
            "/ready",
            tags=["ops"],
            responses={503: {"description": "MongoDB or Kafka away; says which"}},
        )
        async def ready() -> JSONResponse:
            """Ready: MongoDB answers, Kafka answers, and the consumer lag is known. No token, for
            probes."""
            ok, report = await self.readiness.check(self)
            return JSONResponse(
                {"ready": ok, "service": self.settings.service_name, **report},
                status_code=200 if ok else 503,
            )

        @app.get("/metrics", tags=["ops"], include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        for router in self.spec.routers if self.runs_events else ():
            app.include_router(router)
        return app

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        log.info("connecting to MongoDB", database=self.settings.database_name)
        async for attempt in until_it_works(self.settings.retry_max_backoff_s):
            with attempt:
                await self.client.admin.command("ping")
                await self.store.ensure_indexes()
                if self.parking is not None:
                    await self.parking.ensure_indexes()
                if self.spec.create_indexes:
                    await self.spec.create_indexes(self.store)
                if self.spec.on_start:
                    await self.spec.on_start(self)
        if self.runs_events:
            await self._start_events()
        tune_collector()
        for worker in self.workers:
            worker.start()
        log.info(
            "service started",
            database=self.settings.database_name,
            group=self.settings.consumer_group,
            workers=self.settings.workers,
        )

    async def _start_events(self) -> None:
        log.info("connecting to Kafka", bootstrap_servers=self.settings.kafka_bootstrap_servers)
        async for attempt in until_it_works(self.settings.retry_max_backoff_s):
            with attempt:
                await ensure_topics(self.settings)
                await self.broker.start()
        self._tasks.append(asyncio.create_task(self.relay.run_forever(), name="outbox-relay"))
        if self.parking is not None:
            self._tasks.append(asyncio.create_task(self._sweep_parked(), name="parking-sweeper"))

    async def _sweep_parked(self) -> None:
        while True:
            await asyncio.sleep(self.settings.park_sweep_interval_s)
            try:
                await self.consumer.sweep_parked()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("parking sweep failed", error=repr(error))

    async def stop(self) -> None:
        for worker in self.workers:
            await worker.stop()
        if self._tasks:
            self.relay.stop()
            await asyncio.wait(
                self._tasks[:1], timeout=STOP_GRACE_S
            )  # the relay's pass in progress
            for task in self._tasks:
                task.cancel()
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_GRACE_S)
            if stuck:
                log.error("background tasks did not stop", tasks=[t.get_name() for t in stuck])
            try:
                await self.relay.lease.release()
            except Exception as error:
                log.warning("could not release the outbox lease", error=repr(error))
        if self.runs_events:
            try:  # bounded: a stop that never returned once held a test run until CI's limit
                await asyncio.wait_for(self.broker.stop(), BROKER_STOP_S)
            except TimeoutError:
                log.error(
                    "Kafka consumer did not stop in time, going down without it: its batch in "
                    "flight is not committed and will be redelivered",
                    waited_s=BROKER_STOP_S,
                )
        await self.client.close()
        log.info("service stopped")


# A young-generation collection once this many container objects were allocated (net of those
# freed), not after Python's default 700: a partition batch keeps thousands of documents alive
# across its awaits, and at 700 they were walked, promoted and walked again by full passes (about
# a quarter of a busy scoring consumer's CPU; 100,000 left under 2 %). Most garbage is freed by
# reference counting anyway: only cycles wait for a collection.
YOUNG_COLLECTION_AFTER = 100_000


def tune_collector() -> None:
    """What start-up loaded (libraries, schemas, settings) lives as long as the process: frozen,
    the cycle collector's full passes need not walk it again and again; and young collections
    come far less often (YOUNG_COLLECTION_AFTER)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, old)


def serve(service: Service) -> None:
    uvicorn.run(
        service.http,
        host=service.settings.http_host,
        port=service.settings.http_port,
        log_config=None,
    )
