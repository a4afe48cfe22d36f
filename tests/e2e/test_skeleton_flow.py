"""The four services as separate processes over real Kafka and mongod: HTTP in, HTTP out."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

SERVICES = ("customer", "followup", "scoring", "reporting")
ADMIN = {"username": "e2e-admin", "password": uuid.uuid4().hex}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stack(infra, namespace, tmp_path_factory):
    """Starts each service with `python -m crm_<name>`; stops each by its own PID."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    urls, processes = {}, []
    secret = uuid.uuid4().hex * 2  # the same in every service, made for this run
    for name in SERVICES:
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "MONGODB_URI": infra.mongodb_uri,
            "CRM_NAMESPACE": f"{namespace}e2e",
            "CRM_HTTP_PORT": str(port),
            "CRM_OUTBOX_POLL_INTERVAL_S": "0.2",
            "CRM_AUTH_SECRET": secret,
            "CRM_ADMIN_USERNAME": ADMIN["username"],
            "CRM_ADMIN_PASSWORD": ADMIN["password"],
        }
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
        processes.append((name, subprocess.Popen([sys.executable, "-m", f"crm_{name}"], env=env,
                                                 stdout=log, stderr=subprocess.STDOUT), log))
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        for (name, process, _), url in zip(processes, urls.values(), strict=True):
            wait_healthy(name, process, url, logs)
        yield urls
    finally:
        for _, process, log in processes:
            process.terminate()
        for name, process, log in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def wait_healthy(name: str, process: subprocess.Popen, url: str, logs: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{name} exited: {(logs / f'{name}.log').read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{name} not healthy after 60 s")


def login(stack, username: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{stack['customer']}/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_customer_assigned_visited_and_won_shows_in_reporting_with_owner_score_and_timeline(stack):
    run = uuid.uuid4().hex[:6]
    admin = login(stack, ADMIN["username"], ADMIN["password"])
    # A senior salesperson for the east, with a login of their own, and one for the north.
    for salesperson_id, region in ((f"sp-east-{run}", f"east-{run}"), (f"sp-north-{run}", f"north-{run}")):
        registered = httpx.post(f"{stack['customer']}/salespeople", headers=admin, json={
            "salesperson_id": salesperson_id, "name": salesperson_id, "regions": [region], "capacity": 10,
            "seniority": 3})
        assert registered.status_code == 201, registered.text
        password = uuid.uuid4().hex
        user = httpx.post(f"{stack['customer']}/users", headers=admin, json={
            "username": salesperson_id, "password": password, "role": "salesperson",
            "salesperson_id": salesperson_id})
        assert user.status_code == 201, user.text
        if region.startswith("east"):
            east = login(stack, salesperson_id, password)
        else:
            north = login(stack, salesperson_id, password)

    headers = {**east, "X-Correlation-ID": str(uuid.uuid4())}
    created = httpx.post(f"{stack['customer']}/customers", headers=headers, json={
        "name": "End To End Logistics", "size": "large", "nature": "listed_company", "region": f"east-{run}",
        "monthly_freight_volume_tons": 500})
    assert created.status_code == 201, created.text
    customer_id, assignment = created.json()["customer"]["id"], created.json()["assignment"]
    assert assignment["owner_id"] == f"sp-east-{run}"
    passed_over = {c["salesperson_id"]: c for c in assignment["candidates"]}[f"sp-north-{run}"]
    assert not passed_over["eligible"] and "region" in passed_over["reasons"][0]

    visit = httpx.post(f"{stack['followup']}/visits", headers=headers, json={
        "customer_id": customer_id, "salesperson_id": f"sp-east-{run}", "channel": "visit",
        "subject": "site visit", "started_at": "2026-11-20T09:00:00+08:00", "ended_at": "2026-11-20T11:00:00+08:00"})
    deal = httpx.post(f"{stack['followup']}/deals", headers=headers, json={
        "customer_id": customer_id, "salesperson_id": f"sp-east-{run}", "outcome": "won", "amount": "250000.00",
        "currency": "CNY"})
    assert (visit.status_code, deal.status_code) == (201, 201)
    someone_elses = httpx.post(f"{stack['followup']}/visits", headers=north, json={
        "customer_id": customer_id, "salesperson_id": f"sp-east-{run}", "channel": "call", "subject": "x",
        "started_at": "2026-11-20T09:00:00Z", "ended_at": "2026-11-20T09:10:00Z"})
    assert someone_elses.status_code == 403

    # 20 (freight) + 15 (large) + 10 (listed) + 5 (one follow-up) + 15 (one deal won)
    expected_score, expected_counts = 65, {"followups": 1, "deals_won": 1, "deals_lost": 0}
    # Reporting reads three topics that are not ordered with each other: wait for every fact.
    deadline, report = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack['reporting']}/customers/{customer_id}", headers=east)
        report = response.json() if response.status_code == 200 else {}
        score = (report.get("latest_score") or {}).get("score")
        if score == expected_score and report.get("profile") and report.get("counts") == expected_counts \
                and report.get("owner_id"):
            break
        time.sleep(0.3)

    assert report["profile"]["name"] == "End To End Logistics"
    assert report["latest_score"]["tier"] == "B"
    assert report["latest_score"]["win_probability"] == 0.99
    assert report["counts"] == expected_counts
    assert [entry["kind"] for entry in report["timeline"]] == ["deal", "followup"]
    assert report["timeline"][1]["details"]["subject"] == "site visit"
    assert report["owner_id"] == f"sp-east-{run}"
    url = f"{stack['reporting']}/customers/{customer_id}"
    assert httpx.get(url, headers=north).status_code == 403
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=admin).status_code == 200
