"""The whole system on this machine: real Kafka and mongod (infra.py) and the four services, each
its own process in the background with a pid file and a log under .local/services/; reporting's
and scoring's background workers (counting for the reports, model snapshots) in processes of their
own, so that their CPU does not hold up the consumers.

    python deploy/local/stack.py up [--replicas N] | down | status

With --replicas N each of the four services runs N instances, one consumer group per service
sharing its topics' partitions; instance 1 answers on 8001-8004, instance k on 8001-8004 plus
100 * (k - 1). `up` again with another N adds or stops instances (scaling). The background
workers stay one process per service: their leases let one instance work at a time anyway.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.request

import infra

HEALTH_TIMEOUT_S = 90


class ServiceProcess(infra.Managed):
    def __init__(self, name: str, port: int, service: str = "", workers: str = "here") -> None:
        self.name, self.port = name, port
        self.service, self.workers = service or name, workers

    @property
    def home(self):
        return infra.ROOT / "services"

    @property
    def marker(self) -> bytes:
        return f"crm_{self.service}".encode()

    @property
    def log_file(self):
        return self.home / f"{self.name}.log"

    def start(self, env: dict[str, str]) -> None:
        if self.pid() is not None:
            infra.log(f"{self.name}: already running (pid {self.pid()})")
            return
        if infra.port_open(self.port):
            raise SystemExit(
                f"{self.name}: port {self.port} is taken by a process that is not ours"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", f"crm_{self.service}"],
                env={**env, "CRM_HTTP_PORT": str(self.port), "CRM_WORKERS": self.workers},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        infra.wait_until(self.name, self.healthy, process)
        infra.log(
            f"{self.name}: serving on http://{infra.HOST}:{self.port} "
            f"(pid {process.pid}, log {self.log_file})"
        )

    def healthy(self) -> bool:
        with urllib.request.urlopen(
            f"http://{infra.HOST}:{self.port}/health", timeout=2
        ) as response:
            return response.status == 200


SERVICES = {"customer": 8001, "followup": 8002, "scoring": 8003, "reporting": 8004}
WORKERS_APART = ("scoring", "reporting")
MAX_REPLICAS = 9


def instance(service: str, number: int) -> ServiceProcess:
    name = service if number == 1 else f"{service}-{number}"
    workers = "elsewhere" if service in WORKERS_APART else "here"
    return ServiceProcess(name, SERVICES[service] + 100 * (number - 1), service, workers)


def processes(replicas: int) -> list[ServiceProcess]:
    return [
        *(instance(service, n) for n in range(1, replicas + 1) for service in SERVICES),
        ServiceProcess("scoring-workers", 8013, service="scoring", workers="only"),
        ServiceProcess("reporting-workers", 8014, service="reporting", workers="only"),
    ]


def running() -> list[ServiceProcess]:
    """Every instance with a pid file, whatever N it was started with."""
    found = []
    for number in range(1, MAX_REPLICAS + 1):
        found += [instance(service, number) for service in SERVICES]
    found += processes(0)
    return [process for process in found if process.pid_file.exists()]


ADMIN_USERNAME = "admin"


def local_secret(name: str) -> str:
    """Made once per machine and kept in .local/ (git-ignored, readable by the owner only)."""
    path = infra.ROOT / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def up(replicas: int) -> None:
    for server in infra.SERVERS.values():
        server.home.mkdir(parents=True, exist_ok=True)
        server.start()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.KAFKA.url(),
        "MONGODB_URI": infra.MONGO.url(),
        "CRM_AUTH_SECRET": local_secret("auth-secret"),
        "CRM_ADMIN_USERNAME": ADMIN_USERNAME,
        "CRM_ADMIN_PASSWORD": local_secret("admin-password"),
    }
    started = time.monotonic()
    wanted = processes(replicas)
    for process in running():  # scaling down: the instances above N
        if process.name not in {kept.name for kept in wanted}:
            process.stop()
    for process in wanted:
        process.start(env)
    infra.log(
        f"services up in {time.monotonic() - started:.1f} s; log in as {ADMIN_USERNAME} with the "
        f"password in {infra.ROOT / 'admin-password'}"
    )


def down() -> None:
    for process in reversed(running()):
        process.stop()
    for server in infra.SERVERS.values():
        server.stop()


def status() -> None:
    for process in [*infra.SERVERS.values(), *(running() or processes(1))]:
        pid = process.pid()
        print(f"{process.name}: {f'running, pid {pid:d}' if pid else 'stopped'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("REPLICAS") or 1),
        choices=range(1, MAX_REPLICAS + 1),
        metavar=f"1..{MAX_REPLICAS}",
        help="instances of each service (default 1, or $REPLICAS)",
    )
    args = parser.parse_args()
    if args.action == "up":
        up(args.replicas)
    else:
        {"down": down, "status": status}[args.action]()


if __name__ == "__main__":
    main()
