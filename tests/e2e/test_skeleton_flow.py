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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stack(infra, namespace, tmp_path_factory):
    """Starts each service with `python -m crm_<name>`; stops each by its own PID."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    urls, processes = {}, []
    for name in SERVICES:
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "MONGODB_URI": infra.mongodb_uri,
            "CRM_NAMESPACE": f"{namespace}e2e",
            "CRM_HTTP_PORT": str(port),
            "CRM_OUTBOX_POLL_INTERVAL_S": "0.2",
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


def test_a_customer_visited_and_won_shows_in_reporting_with_its_score_and_timeline(stack):
    correlation_id = str(uuid.uuid4())
    headers = {"X-Correlation-ID": correlation_id}
    customer = httpx.post(f"{stack['customer']}/customers", headers=headers, json={
        "name": "End To End Logistics", "size": "large", "nature": "listed_company",
        "monthly_freight_volume_tons": 500}).json()
    customer_id = customer["id"]
    visit = httpx.post(f"{stack['followup']}/visits", headers=headers, json={
        "customer_id": customer_id, "salesperson_id": "sp-e2e", "channel": "visit", "subject": "site visit",
        "started_at": "2026-11-20T09:00:00+08:00", "ended_at": "2026-11-20T11:00:00+08:00"})
    deal = httpx.post(f"{stack['followup']}/deals", headers=headers, json={
        "customer_id": customer_id, "outcome": "won", "amount": "250000.00", "currency": "CNY"})
    assert (visit.status_code, deal.status_code) == (201, 201)

    # 20 (freight) + 15 (large) + 10 (listed) + 5 (one follow-up) + 15 (one deal won)
    expected_score, expected_counts = 65, {"followups": 1, "deals_won": 1, "deals_lost": 0}
    # Reporting reads three topics that are not ordered with each other: wait for every fact.
    deadline, report = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack['reporting']}/customers/{customer_id}")
        report = response.json() if response.status_code == 200 else {}
        score = (report.get("latest_score") or {}).get("score")
        if score == expected_score and report.get("profile") and report.get("counts") == expected_counts:
            break
        time.sleep(0.3)

    assert report["profile"]["name"] == "End To End Logistics"
    assert report["latest_score"]["tier"] == "B"
    assert report["latest_score"]["win_probability"] == 0.99
    assert report["counts"] == expected_counts
    assert [entry["kind"] for entry in report["timeline"]] == ["deal", "followup"]
    assert report["timeline"][1]["details"]["subject"] == "site visit"
