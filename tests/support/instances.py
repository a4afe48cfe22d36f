"""Service instances as separate processes (`python -m crm_<service>`), and a Kafka broker of a
test's own (deploy/local/infra.py with its own directory and ports); each stopped by its PID."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
INFRA = [sys.executable, str(ROOT / "deploy" / "local" / "infra.py")]
# The whole system as make demo runs it, name: (package, CRM_WORKERS): scoring's and reporting's
# background workers in processes of their own.
STACK = {
    "customer": ("customer", "here"),
    "followup": ("followup", "here"),
    "scoring": ("scoring", "elsewhere"),
    "reporting": ("reporting", "elsewhere"),
    "scoring-workers": ("scoring", "only"),
    "reporting-workers": ("reporting", "only"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """One process of a service, on a port of its own, logging to `logs/<name>.log`."""

    def __init__(
        self,
        name: str,
        service: str,
        env: dict[str, str],
        logs: Path,
        command: list[str] | None = None,
    ) -> None:
        """`command` runs the service otherwise than `python -m crm_<service>` (under a tracer)."""
        self.name, self.service, self.port = name, service, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logs / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command or [sys.executable, "-m", f"crm_{service}"],
                env={**os.environ, **env, "CRM_HTTP_PORT": str(self.port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_healthy(self, timeout_s: float = 120) -> "Instance":
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not healthy after {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: no clean stop, nothing released; what it held must be taken over."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class OwnBroker:
    """A Kafka broker in `home`, on free ports, with the shared installation's jars; with
    `mongod=True` a mongod of its own too (a replica set of one, as deploy/local's)."""

    def __init__(self, home: Path, mongod: bool = False) -> None:
        subprocess.run([*INFRA, "install", "kafka"], check=True, capture_output=True)
        shared = Path(os.environ.get("CRM_LOCAL_DIR", ROOT / ".local")).resolve()
        self.home = home
        self.servers = ["kafka", "mongo"] if mongod else ["kafka"]
        self.env = {
            **os.environ,
            "CRM_LOCAL_DIR": str(home),
            "CRM_KAFKA_LIBS": str(shared / "kafka" / "libs"),
            "CRM_KAFKA_PORT": str(free_port()),
            "CRM_KAFKA_CONTROLLER_PORT": str(free_port()),
            "CRM_KAFKA_SECURE_PORT": str(free_port()),
            "CRM_MONGO_PORT": str(free_port()),
        }
        self.bootstrap_servers = f"127.0.0.1:{self.env['CRM_KAFKA_PORT']}"
        self.mongodb_uri = f"mongodb://127.0.0.1:{self.env['CRM_MONGO_PORT']}/?replicaSet=rs0"

    def start(self, *which: str) -> "OwnBroker":
        for server in which or self.servers:
            started = subprocess.run(
                [*INFRA, "start", server], env=self.env, capture_output=True, text=True, check=False
            )
            if started.returncode != 0:
                raise RuntimeError(f"the test's {server} did not start: {started.stderr}")
        return self

    def kill(self, server: str) -> None:
        """SIGKILL, by the PID in its pid file once its command line shows it is that server."""
        pid = int((self.home / server / f"{server}.pid").read_text())
        if str(self.home / server).encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
            raise RuntimeError(f"pid {pid} is no longer the test's {server}")
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists() and b"zombie" not in _state(pid):
            time.sleep(0.05)

    def stop(self) -> None:
        for server in self.servers:
            subprocess.run([*INFRA, "stop", server], env=self.env, capture_output=True, check=False)


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/status").read_bytes().lower()
    except FileNotFoundError:
        return b"zombie"
