"""Shared test fixtures. Tiers come from the folder: */unit/* (and contracts), */integration/*,
*/e2e/*.

Real Kafka and mongod for the integration and end-to-end tiers come from KAFKA_BOOTSTRAP_SERVERS
and MONGODB_URI when both are set (with KAFKA_SECURE_* for the broker's SASL_SSL listener), else
from deploy/local (installed and started here, stopped at the end if started here). Neither is
optional: when none can be had the tests error, they never skip.
"""

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e")
TEST_AUTH_SECRET = uuid.uuid4().hex * 2  # made per run, never a constant in the code


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.fspath).relative_to(ROOT).parts
        tier = next((part for part in parts if part in TIERS), None)
        if tier is None:
            raise pytest.UsageError(
                f"{item.nodeid}: a test lives under unit/, integration/ or e2e/"
            )
        item.add_marker(getattr(pytest.mark, tier))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    counts: dict[str, Counter] = {tier: Counter() for tier in TIERS}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            tier = next((t for t in TIERS if f"/{t}/" in f"/{report.nodeid}"), None)
            if (
                tier
                and report.when in ("call", "setup")
                and (outcome != "passed" or report.when == "call")
            ):
                counts[tier][outcome] += 1
    terminalreporter.section("tests per tier")
    for tier in TIERS:
        line = ", ".join(f"{n} {o}" for o, n in sorted(counts[tier].items())) or "none run"
        terminalreporter.write_line(f"{tier:>12}: {line}")


SECURE = ("BOOTSTRAP_SERVERS", "USERNAME", "PASSWORD", "CAFILE")


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    source: str
    # The same broker's listener that asks for TLS and a SCRAM-SHA-512 login, as a cluster's.
    kafka_secure: dict[str, str]


def _secure(variables: dict[str, str]) -> dict[str, str]:
    missing = [f"KAFKA_SECURE_{name}" for name in SECURE if f"KAFKA_SECURE_{name}" not in variables]
    if missing:
        raise RuntimeError(f"the broker's SASL_SSL listener is not described: set {missing}")
    return {name.lower(): variables[f"KAFKA_SECURE_{name}"] for name in SECURE}


def _from_deploy_local() -> Iterator[Infra]:
    script = [sys.executable, str(ROOT / "deploy" / "local" / "infra.py")]
    was_running = (
        "running" in subprocess.run([*script, "status"], capture_output=True, text=True).stdout
    )
    started = subprocess.run([*script, "start"], capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(
            f"deploy/local could not start Kafka and mongod:\n{started.stdout}{started.stderr}"
        )
    urls = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    try:
        yield Infra(
            urls["KAFKA_BOOTSTRAP_SERVERS"], urls["MONGODB_URI"], "deploy/local", _secure(urls)
        )
    finally:
        if not was_running:
            subprocess.run([*script, "stop"], check=False)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if kafka and mongo:
        yield Infra(kafka, mongo, "environment", _secure(dict(os.environ)))
    else:
        yield from _from_deploy_local()


@pytest.fixture(scope="session")
def namespace() -> str:
    """Databases and consumer groups of this run are prefixed with it: runs never share state."""
    return f"t{uuid.uuid4().hex[:8]}"


class KafkaTools:
    """Raw access to the real broker for tests: publish any bytes, read back what arrived."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._producer = None

    async def publish(
        self, topic: str, value: bytes, key: bytes = b"test", headers: dict | None = None
    ) -> None:
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all")
            await self._producer.start()
        await self._producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in (headers or {}).items()]
        )

    async def read(
        self, topic: str, match, *, expect: int = 1, timeout_s: float = 30.0, settle_s: float = 0.0
    ):
        """Records of `topic` (from its start) for which match(record) is true, once `expect` of
        them have arrived, plus any more that arrive within `settle_s` (to catch duplicates)."""
        import asyncio
        import time

        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list = []
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and len(found) < expect:
                batches = await consumer.getmany(timeout_ms=500)
                found += [r for records in batches.values() for r in records if match(r)]
            settle_until = time.monotonic() + settle_s
            while time.monotonic() < settle_until:
                batches = await consumer.getmany(timeout_ms=200)
                found += [r for records in batches.values() for r in records if match(r)]
                await asyncio.sleep(0)
        finally:
            await consumer.stop()
        return found

    @staticmethod
    def where(**fields):
        """A match for read(): records whose JSON value has these top-level fields."""
        import json

        wanted = {name: str(value) for name, value in fields.items()}

        def match(record) -> bool:
            try:
                value = json.loads(record.value)
                return all(str(value.get(name)) == text for name, text in wanted.items())
            except (ValueError, AttributeError):
                return False

        return match

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()


@pytest.fixture(scope="session")
async def kafka(infra: Infra):
    tools = KafkaTools(infra.kafka_bootstrap_servers)
    yield tools
    await tools.close()


@pytest.fixture(scope="session")
def settings_for(infra: Infra, namespace: str):
    """Settings for a service under test: the real infra, this run's namespace, quick backoff."""

    def make(settings_class, **overrides):
        defaults = {
            "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
            "mongodb_uri": infra.mongodb_uri,
            "namespace": namespace,
            "retry_max_backoff_s": 1.0,
            "outbox_poll_interval_s": 0.2,
            "auth_secret": TEST_AUTH_SECRET,
        }
        return settings_class(**{**defaults, **overrides})

    return make


@pytest.fixture
async def running():
    """Starts services in this process (their lifespan, not uvicorn) and stops them after the
    test."""
    started = []

    async def start(service):
        await service.start()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        await service.stop()


@pytest.fixture(scope="session")
def eventually():
    """await eventually(probe): polls an async probe until it returns something truthy (120 s at
    most: a new consumer group reads each topic from its start, long on a long-lived local
    broker)."""
    import asyncio
    import time

    async def wait(probe, timeout_s: float = 120.0):
        deadline = time.monotonic() + timeout_s
        while not (result := await probe()):
            assert time.monotonic() < deadline, f"still not true after {timeout_s} s: {probe}"
            await asyncio.sleep(0.2)
        return result

    return wait


@pytest.fixture(scope="session")
def auth_secret() -> str:
    """This run's signing secret, for services started as processes."""
    return TEST_AUTH_SECRET


@pytest.fixture(scope="session")
def token():
    """token(role, salesperson_id=None): a bearer token signed with this run's secret."""
    from crm_runtime.auth import Principal, Role, issue_token

    def make(
        role: str = "admin", salesperson_id: str | None = None, user_id: str | None = None
    ) -> str:
        principal = Principal(user_id or f"u-{role}", Role(role), salesperson_id)
        return issue_token(principal, TEST_AUTH_SECRET, ttl_s=600)

    return make


@pytest.fixture
def http(token):
    """An HTTP client for a service running in this process (see `running`), as `role` (admin by
    default), or with no token at all when role is None."""
    import httpx

    def client(
        service, role: str | None = "admin", salesperson_id: str | None = None
    ) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token(role, salesperson_id)}"} if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.http),
            base_url="http://service",
            headers=headers,
        )

    return client


@pytest.fixture(scope="session")
def credit_code():
    """credit_code(): a new valid unified social credit code each call."""
    import random

    from crm_contracts.credit_code import CHARSET, check_character

    def make() -> str:
        first17 = "91" + "".join(random.choice(CHARSET) for _ in range(15))
        return first17 + check_character(first17)

    return make
