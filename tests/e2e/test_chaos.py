"""The fault suite (issue 13): a generated history (chaos_history.py) goes in through the APIs and
straight onto Kafka, with duplicates and junk, while service instances are SIGKILLed at random
and the broker and mongod are killed once each, every one brought back as a supervisor would.
Then every report equals what the history says (computed from it alone) and what a fault-free
reporting instance reading the same topics says, and every score equals a fault-free run of the
scoring over the same events: nothing lost, nothing applied twice, nothing different.

The system runs on a broker and a mongod of the test's own, two instances of each service.
CHAOS_SIZE=full (make chaos) is the issue's full size; the reduced one runs in make test."""

import asyncio
import os
import random
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from chaos_history import SALESPEOPLE, SIZES, STAGES, History, Step, generate, now_utc
from crm_contracts import Event
from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.consumer import checked
from crm_runtime.records import Record
from crm_runtime.store import Store
from crm_scoring import adapters
from crm_scoring.engine import react
from crm_scoring.memory_state import InMemoryState
from crm_scoring.settings import ScoringSettings
from fleet import PERIOD, Fleet, sent, settled, topic_records, views
from instances import OwnBroker
from pymongo import AsyncMongoClient

SIZE_NAME = os.environ.get("CHAOS_SIZE", "reduced")
SIZE = SIZES[SIZE_NAME]
SERVICES = ["customer", "followup", "scoring", "reporting"]
RESTART_AFTER_S = 1.0  # a supervisor's restart delay
THINK_S = 0.05  # a user's pause between two requests of a chain
HTTP_AT_ONCE = 8

DEFAULT_MODEL = ScoringSettings.model_fields["model_version"].default  # the services'


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    servers = OwnBroker(tmp_path_factory.mktemp("chaos"), mongod=True).start()
    yield servers
    servers.stop()


@pytest.fixture
def fleet(own, auth_secret, tmp_path):
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": own.bootstrap_servers,
        "MONGODB_URI": own.mongodb_uri,
        "CRM_AUTH_SECRET": auth_secret,
        "CRM_TOPIC_PARTITIONS": "4",
    }
    started = Fleet(env, tmp_path)
    yield started
    started.stop()
    print(f"logs: {tmp_path}")


class Supervisor:
    """Kills what the schedule says and brings it back, timing each recovery."""

    def __init__(self, fleet: Fleet, own: OwnBroker, namespace: str, seed: int) -> None:
        self.fleet, self.own, self.namespace = fleet, own, namespace
        self.rng = random.Random(seed)
        self.kills: list[dict[str, Any]] = []

    def schedule(self, instance_kills: int) -> list[str]:
        """Instance kills, with the broker's after a third of them and mongod's after two."""
        faults = ["instance"] * instance_kills
        faults.insert(instance_kills // 3, "kafka")
        faults.insert(2 * instance_kills // 3 + 1, "mongo")
        return faults

    async def fault(self, fault: str) -> None:
        if fault == "instance":
            await self.kill_instance()
        else:
            await self.kill_server(fault)

    async def kill_instance(self) -> None:
        victim = self.rng.choice(sorted(self.fleet.live(namespace=self.namespace), key=str))
        started = time.monotonic()
        victim.kill()
        await asyncio.sleep(RESTART_AFTER_S)
        await self.fleet.add(self.namespace, victim.service)
        self.kills.append({"what": victim.name, "recovered_s": time.monotonic() - started})

    async def kill_server(self, server: str) -> None:
        started = time.monotonic()
        await asyncio.to_thread(self.own.kill, server)
        await asyncio.sleep(RESTART_AFTER_S)
        await asyncio.to_thread(self.own.start, server)
        self.kills.append({"what": server, "recovered_s": time.monotonic() - started})


class Caller:
    """The API's user: each step to a live instance of its service, sent again with its
    Idempotency-Key after a lost answer, a 503, or a customer the follow-up service has not
    learnt of yet. Anything else that is not a success fails the test, and so does any 500."""

    def __init__(self, fleet: Fleet, namespace: str, token: str) -> None:
        self.fleet, self.namespace = fleet, namespace
        self.client = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=15)
        self.retries: Counter[str] = Counter()
        self.server_errors: list[str] = []
        self.done = 0

    async def chain(self, steps: list[Step], limit: asyncio.Semaphore) -> None:
        ids: dict[str, str] = {}
        async with limit:
            for step in steps:
                answer = await self.send(step, ids)
                self.done += 1
                await asyncio.sleep(THINK_S)
                if step.takes == "customer":
                    ids["customer"] = answer["customer"]["id"]
                elif step.takes == "opportunity":
                    ids["opportunity"] = answer["id"]

    async def send(self, step: Step, ids: dict[str, str]) -> dict[str, Any]:
        path = step.path.format(**ids)
        body = _filled(step.body, ids)
        deadline = time.monotonic() + 180
        attempt = 0
        while time.monotonic() < deadline:
            live = self.fleet.live(step.service, self.namespace)
            if not live:
                await asyncio.sleep(0.2)
                continue
            url = live[attempt % len(live)].url + path
            attempt += 1
            try:
                answer = await self.client.post(
                    url, json=body, headers={"Idempotency-Key": step.key}
                )
            except httpx.TransportError as error:
                self.retries[type(error).__name__] += 1
                await asyncio.sleep(0.2)
                continue
            if answer.status_code in (200, 201):
                return dict(answer.json())
            if answer.status_code >= 500:
                self.retries[str(answer.status_code)] += 1
                if answer.status_code != 503:
                    self.server_errors.append(f"{path}: {answer.status_code} {answer.text[:300]}")
                await asyncio.sleep(0.3)
                continue
            if answer.status_code == 422 and "not known" in answer.text:
                self.retries["customer not known yet"] += 1
                await asyncio.sleep(0.3)
                continue
            raise AssertionError(f"{path} {body} answered {answer.status_code}: {answer.text}")
        raise AssertionError(f"{path} got no answer in 180 s")


def _filled(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: _filled(v, ids) for k, v in body.items()}
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return ids[body[1:-1]]
    return body


class Publisher:
    """The ERP's and the call centre's producer: a record the broker did not take (it was away)
    is sent again, as an outside publisher does."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", request_timeout_ms=15000
        )
        self.sent_again = 0

    async def send(self, records: list[Any]) -> None:
        while records:
            sent = [await self.producer.send(r.topic, r.value, key=r.key) for r in records]
            results = await asyncio.gather(*sent, return_exceptions=True)
            records = [
                r
                for r, result in zip(records, results, strict=True)
                if isinstance(result, KafkaError)
            ]
            self.sent_again += len(records)
            if records:
                await asyncio.sleep(1)


async def apply_with_faults(
    history: History, caller: Caller, publisher: Publisher, supervisor: Supervisor
) -> None:
    """The history in as many slices as there are faults, and one more: each slice's HTTP chains
    and records under way together, and the slice's fault once half its requests are answered, so
    that it lands in the middle of requests, batches and publishing."""
    faults = supervisor.schedule(SIZE.kills)
    slices, records, limit = len(faults) + 1, history.records, asyncio.Semaphore(HTTP_AT_ONCE)
    for n in range(slices):
        part = records[len(records) * n // slices : len(records) * (n + 1) // slices]
        under_way = asyncio.gather(
            publisher.send(part), *[caller.chain(c, limit) for c in history.chains[n::slices]]
        )
        if n < len(faults):
            steps = sum(len(c) for c in history.chains[n::slices])
            halfway = caller.done + steps // 2
            while caller.done < halfway and not under_way.done():
                await asyncio.sleep(0.05)
            await supervisor.fault(faults[n])
        await under_way


def events_of(records: list[Any]) -> list[Event]:
    """The valid events among the records, each once, in each partition's order."""
    events, seen = [], set()
    for raw in records:
        event = checked(Record.of(raw))
        if not isinstance(event, Exception) and str(event.event_id) not in seen:
            seen.add(str(event.event_id))
            events.append(event)
    return events


async def scores_of(events: list[Event]) -> InMemoryState:
    """A fault-free scoring of the events on the topics, in memory."""
    state = InMemoryState()
    for event in events:
        await react(state, event, DEFAULT_MODEL)
    await state.publish(DEFAULT_MODEL)
    return state


def expected_scorecard(history: History) -> dict[str, dict[str, Any]]:
    wanted = history.expected
    return {
        person: {
            "followups_by_channel": dict(sorted(wanted.followups[person].items())),
            "deals_won": wanted.deals[person]["won"],
            "deals_lost": wanted.deals[person]["lost"],
            "revenue_won": {"CNY": float(wanted.revenue[person])}
            if wanted.deals[person]["won"]
            else {},
        }
        for person in SALESPEOPLE
    }


def compare_with_history(history: History, seen: dict[str, Any]) -> list[str]:
    """What the reports say that the history does not: each difference, named."""
    differences = []
    wanted = history.expected
    scorecard = {row["salesperson_id"]: row for row in seen["scorecard"]}
    for person, figures in expected_scorecard(history).items():
        row = scorecard.get(person, {})
        for name, figure in figures.items():
            if row.get(name) != figure:
                differences.append(f"scorecard {person} {name}: {row.get(name)} != {figure}")
    regions: Counter[str] = Counter()
    freight: Counter[str] = Counter()
    for row in seen["value_by_region"]:
        regions[row["region"]] += row["customers"]
        freight[row["region"]] += row["freight_tons"]
    if regions != wanted.regions:
        differences.append(f"customers by region: {dict(regions)} != {dict(wanted.regions)}")
    for region, tons in wanted.freight.items():
        if abs(freight[region] - tons) > 0.01:
            differences.append(f"freight {region}: {freight[region]} != {tons}")
    funnel = seen["funnel_whole"]
    if funnel["opportunities"] != wanted.opportunities:
        differences.append(f"opportunities: {funnel['opportunities']} != {wanted.opportunities}")
    reached = {row["stage"]: row["reached"] for row in funnel["stages"] if row["stage"] in STAGES}
    if reached != {stage: wanted.reached[stage] for stage in STAGES}:
        differences.append(f"reached: {reached} != {dict(wanted.reached)}")
    return differences


async def by_region(url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        value = await client.get("/reports/value", params={"by": ["region"]})
        funnel = await client.get("/reports/funnel", params=PERIOD)
    stages = funnel.json()
    return {
        "value_by_region": value.json()["rows"],
        "funnel_whole": {"stages": stages["rows"], "opportunities": stages["opportunities"]},
    }


async def test_nothing_lost_applied_twice_or_different_through_kills(
    own, fleet, namespace, auth_secret
):
    history = generate(SIZE, now_utc())
    chaos, calm = f"{namespace}c", f"{namespace}f"
    began = time.monotonic()
    await asyncio.gather(*[fleet.add(chaos, s) for s in SERVICES for _ in range(2)])
    admin = issue_token(Principal("u-admin", Role("admin"), None), auth_secret, 3600)
    caller = Caller(fleet, chaos, admin)
    for person in history.salespeople:
        await caller.send(_salesperson(person), {})
    supervisor = Supervisor(fleet, own, chaos, seed=7)
    publisher = Publisher(own.bootstrap_servers)
    await publisher.producer.start()
    load_began = time.monotonic()
    try:
        await apply_with_faults(history, caller, publisher, supervisor)
    finally:
        await publisher.producer.stop()
    loaded = time.monotonic()

    client: AsyncMongoClient = AsyncMongoClient(own.mongodb_uri, tz_aware=True)
    scoring, reporting = Store(client, f"{chaos}_scoring"), Store(client, f"{chaos}_reporting")
    deadline = time.monotonic() + 600
    # The events the HTTP writes made are read from the topics once all are there: read before
    # a relay killed late had sent its last, the fault-free scoring missed a deal that the
    # scoring service had, and most scores differed.
    writers = [Store(client, f"{chaos}_{service}") for service in ("customer", "followup")]
    while not all([await sent(writer) for writer in writers]):
        assert time.monotonic() < deadline, "the outboxes were not sent after 600 s"
        await asyncio.sleep(0.5)
    outboxes_sent = time.monotonic()
    records = await topic_records(own.bootstrap_servers, CUSTOMER_EVENTS, FOLLOWUP_EVENTS)
    events = events_of(records)
    ids = sorted(str(event.event_id) for event in events)
    while not await settled(scoring, [reporting], ids):
        assert time.monotonic() < deadline, "not settled after 600 s"
        await asyncio.sleep(0.5)
    drained = time.monotonic()

    # Fault-free: a reporting instance reading the same topics alone; scoring in memory.
    alone = await fleet.add(calm, "reporting")
    calm_reporting = Store(client, f"{calm}_reporting")
    while not await settled(scoring, [calm_reporting], ids):
        assert time.monotonic() < deadline + 600, "the fault-free reporting did not settle"
        await asyncio.sleep(0.5)
    customers = sorted({event.customer_id for event in events})
    scaled = fleet.live("reporting", chaos)[0]
    chaotic_views, calm_views = await asyncio.gather(
        views(scaled.url, admin, customers), views(alone.url, admin, customers)
    )
    reference = await scores_of(events)
    scores = await adapters.results(scoring)
    model = await adapters.Snapshots().latest(scoring.db)
    differences = compare_with_history(
        history, {**chaotic_views, **await by_region(scaled.url, admin)}
    )
    await client.close()

    different_views = [name for name in calm_views if chaotic_views.get(name) != calm_views[name]]
    different_scores = [c for c in reference.results if scores.get(c) != reference.results[c]]
    print(
        f"\nchaos ({SIZE_NAME}): {history.events:,} events ({len(ids):,} on the topics with the "
        f"services' own), {history.duplicates:,} published twice, {len(history.junk)} junk; "
        f"{sum(len(c) for c in history.chains):,} HTTP writes in {len(history.chains)} chains"
    )
    for kill in supervisor.kills:
        print(f"  killed {kill['what']:<24} back in {kill['recovered_s']:5.1f} s")
    print(
        f"  start {load_began - began:.0f} s, load {loaded - load_began:.0f} s, outboxes sent "
        f"{outboxes_sent - loaded:.1f} s later, drain "
        f"{drained - loaded:.0f} s; retries {dict(caller.retries)}; records sent again "
        f"{publisher.sent_again}"
    )
    print(
        f"  compared: {len(calm_views)} reports and views, {len(reference.results)} scores, "
        f"{len(expected_scorecard(history))} salespeople and {len(history.expected.regions)} "
        f"regions from the history: {len(different_views)} views, {len(different_scores)} "
        f"scores, {len(differences)} figures different"
    )
    for customer_id in different_scores[:3]:
        print(
            f"  {customer_id}: {scores.get(customer_id)}, "
            f"fault-free {reference.results[customer_id]}"
        )
    counts, fault_free = model.counts.by_key, reference.snapshot.counts.by_key
    for key in sorted(set(counts) | set(fault_free)):
        if counts.get(key) != fault_free.get(key):
            print(f"  the model counts {key}: {counts.get(key)}, fault-free {fault_free.get(key)}")
    again = await topic_records(own.bootstrap_servers, CUSTOMER_EVENTS, FOLLOWUP_EVENTS)
    assert sorted(str(event.event_id) for event in events_of(again)) == ids, "read too early"
    assert len(supervisor.kills) == SIZE.kills + 2
    assert caller.server_errors == []
    assert differences == []
    assert different_views == []
    assert different_scores == []
    assert len(reference.results) == len(scores) == len(customers)


def _salesperson(person: dict[str, Any]) -> Step:
    return Step("customer", "/salespeople", person, f"salesperson-{person['salesperson_id']}")
