"""The four services as separate processes over real Kafka and mongod, for every end-to-end test."""

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from instances import STACK, free_port

ADMIN = {"username": "e2e-admin", "password": uuid.uuid4().hex}


@contextlib.contextmanager
def started_stack(infra, namespace: str, logs: Path) -> Iterator[dict[str, str]]:
    """Starts each service with `python -m crm_<package>` in `namespace`; yields their URLs once
    each has read what the broker holds; stops each by its own PID."""
    urls, processes = {}, []
    secret = uuid.uuid4().hex * 2  # the same in every service, made for this run
    for name, (package, workers) in STACK.items():
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "MONGODB_URI": infra.mongodb_uri,
            "CRM_NAMESPACE": namespace,
            "CRM_HTTP_PORT": str(port),
            "CRM_WORKERS": workers,
            "CRM_OUTBOX_POLL_INTERVAL_S": "0.2",
            "CRM_AUTH_SECRET": secret,
            "CRM_ADMIN_USERNAME": ADMIN["username"],
            "CRM_ADMIN_PASSWORD": ADMIN["password"],
        }
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
        processes.append(
            (
                name,
                subprocess.Popen(
                    [sys.executable, "-m", f"crm_{package}"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        )
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        for (name, process, _), url in zip(processes, urls.values(), strict=True):
            wait_healthy(name, process, url, logs)
        for name, url in urls.items():
            wait_caught_up(name, url)
        yield urls
    finally:
        for _, process, _log in processes:
            process.terminate()
        for _name, process, log in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture(scope="session")
def stack(infra, namespace, tmp_path_factory):
    with started_stack(infra, f"{namespace}e2e", tmp_path_factory.mktemp("e2e-logs")) as urls:
        yield urls


@pytest.fixture(scope="session")
def stack_of(infra, namespace, tmp_path_factory):
    """stack_of(name): another whole stack, in a namespace of its own (a context manager), for
    tests whose writes must not reach the shared one's state."""

    def start(name: str):
        return started_stack(infra, f"{namespace}{name}", tmp_path_factory.mktemp(f"{name}-logs"))

    return start


def wait_healthy(name: str, process: subprocess.Popen, url: str, logs: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (
            f"{name} exited: {(logs / f'{name}.log').read_text()[-3000:]}"
        )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{name} not healthy after 60 s")


def wait_caught_up(name: str, url: str, timeout_s: float = 600) -> None:
    """Until the service's consumers have read every record the broker holds: a broker kept from
    earlier runs holds their events, which a new group reads from the beginning, and a test's
    events would wait behind them (a test waiting 30 s for one of them then fails)."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/ready", timeout=10)
        last = answer.json()
        if answer.status_code == 200 and (last.get("lag") or {}).get("total", 0) == 0:
            return
        time.sleep(1)
    raise AssertionError(f"{name} has not read what the broker holds after {timeout_s} s: {last}")


class Client:
    """HTTP to the running stack as one user; `eventually` retries until the check passes."""

    def __init__(self, urls: dict[str, str], headers: dict[str, str]) -> None:
        self.urls, self.headers = urls, headers

    def call(self, method: str, service: str, path: str, **kwargs) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.request(
            method, f"{self.urls[service]}{path}", headers=headers, timeout=10, **kwargs
        )

    def post(self, service: str, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
        return self.call("POST", service, path, json=body if body is not None else {}, **kwargs)

    def get(self, service: str, path: str, **kwargs) -> httpx.Response:
        return self.call("GET", service, path, **kwargs)


def _eventually(check, timeout_s: float = 120.0, what: str = "condition"):
    """Polls check() until it returns something truthy; fails with the last value after
    timeout_s."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if last := check():
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} still not true after {timeout_s} s (last: {last!r})")


def _eventually_equal(read, expected, timeout_s: float = 120.0, what: str = "state"):
    """Polls read() until it equals the WHOLE expected state; fails showing both after timeout_s.
    Waiting for part of a state and then asserting on the rest is a race: never do that."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if (last := read()) == expected:
            return last
        time.sleep(0.3)
    raise AssertionError(
        f"{what} after {timeout_s} s:\n  expected {expected!r}\n  last     {last!r}"
    )


def login(urls, username: str, password: str) -> Client:
    response = httpx.post(
        f"{urls['customer']}/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return Client(urls, {"Authorization": f"Bearer {response.json()['access_token']}"})


@pytest.fixture(scope="session")
def admin(stack) -> Client:
    return login(stack, ADMIN["username"], ADMIN["password"])


@pytest.fixture(scope="session")
def salesperson(stack, admin):
    """salesperson(region, seniority=3): registers one with a login of their own; returns
    (id, Client)."""

    def make(region: str, seniority: int = 3) -> tuple[str, Client]:
        salesperson_id = f"sp-{region}"
        registered = admin.post(
            "customer",
            "/salespeople",
            {
                "salesperson_id": salesperson_id,
                "name": salesperson_id,
                "regions": [region],
                "capacity": 10,
                "seniority": seniority,
            },
        )
        assert registered.status_code == 201, registered.text
        password = uuid.uuid4().hex
        user = admin.post(
            "customer",
            "/users",
            {
                "username": salesperson_id,
                "password": password,
                "role": "salesperson",
                "salesperson_id": salesperson_id,
            },
        )
        assert user.status_code == 201, user.text
        return salesperson_id, login(stack, salesperson_id, password)

    return make


@pytest.fixture(scope="session")
def until():
    """until(check, what=...): polls check() until truthy (120 s at most) and returns its value."""
    return _eventually


@pytest.fixture(scope="session")
def until_equal():
    """until_equal(read, expected, what=...): polls read() until it equals expected (120 s)."""
    return _eventually_equal


@pytest.fixture(scope="session")
def log_in_to():
    """log_in_to(urls, username=the admin, password=its password): a Client for that stack."""

    def make(urls, username: str = ADMIN["username"], password: str = ADMIN["password"]):
        return login(urls, username, password)

    return make


@pytest.fixture(scope="session")
def log_in(stack):
    """log_in(username, password): a Client with that user's token."""
    return lambda username, password: login(stack, username, password)


@pytest.fixture(scope="session")
def anonymous(stack) -> Client:
    return Client(stack, {})
