"""The whole system on this machine: real Kafka and mongod (infra.py) and the four services, each
its own process in the background with a pid file and a log under .local/services/.

    python deploy/local/stack.py up|down|status
"""

import argparse
import os
import subprocess
import sys
import time
import urllib.request

import infra

SERVICES = {"customer": 8001, "followup": 8002, "scoring": 8003, "reporting": 8004}
HEALTH_TIMEOUT_S = 90


class ServiceProcess(infra.Managed):
    def __init__(self, service: str, port: int) -> None:
        self.name, self.port = service, port

    @property
    def home(self):
        return infra.ROOT / "services"

    @property
    def marker(self) -> bytes:
        return f"crm_{self.name}".encode()

    @property
    def log_file(self):
        return self.home / f"{self.name}.log"

    def start(self, env: dict[str, str]) -> None:
        if self.pid() is not None:
            infra.log(f"{self.name}: already running (pid {self.pid()})")
            return
        if infra.port_open(self.port):
            raise SystemExit(f"{self.name}: port {self.port} is taken by a process that is not ours")
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", f"crm_{self.name}"],
                env={**env, "CRM_HTTP_PORT": str(self.port)},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        infra.wait_until(self.name, self.healthy, process)
        infra.log(f"{self.name}: serving on http://{infra.HOST}:{self.port} (pid {process.pid}, log {self.log_file})")

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://{infra.HOST}:{self.port}/health", timeout=2) as response:
            return response.status == 200


PROCESSES = [ServiceProcess(name, port) for name, port in SERVICES.items()]


def up() -> None:
    for server in infra.SERVERS.values():
        server.home.mkdir(parents=True, exist_ok=True)
        server.start()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.SERVERS["kafka"].url(),
        "MONGODB_URI": infra.SERVERS["mongo"].url(),
    }
    started = time.monotonic()
    for process in PROCESSES:
        process.start(env)
    infra.log(f"services up in {time.monotonic() - started:.1f} s")


def down() -> None:
    for process in reversed(PROCESSES):
        process.stop()
    for server in infra.SERVERS.values():
        server.stop()


def status() -> None:
    for process in [*infra.SERVERS.values(), *PROCESSES]:
        pid = process.pid()
        print(f"{process.name}: {'running, pid %d' % pid if pid else 'stopped'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "status"])
    {"up": up, "down": down, "status": status}[parser.parse_args().action]()


if __name__ == "__main__":
    main()
