"""One settings model for every service: environment variables, with defaults for a local run."""

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_runtime.pipeline import DEFAULT_PIPELINE, Pipeline


class ServiceSettings(BaseSettings):
    """Read from CRM_* variables; the two connection strings also from their common names."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", populate_by_name=True)

    service_name: str = "crm"
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CRM_KAFKA_BOOTSTRAP_SERVERS"),
    )
    mongodb_uri: str = Field(
        default="mongodb://127.0.0.1:27017/?replicaSet=rs0",
        validation_alias=AliasChoices("MONGODB_URI", "CRM_MONGODB_URI"),
    )
    mongodb_timeout_ms: int = Field(
        default=5000, ge=100, description="Server selection; then retried."
    )
    # Prefixes every database name and consumer group, so that several stacks (or test runs) can
    # share one Kafka and one mongod without seeing each other's state.
    namespace: str = Field(default="crm", pattern=r"^[a-z0-9_-]{1,20}$")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    auth_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signs and checks login tokens; the same in every service. Required to serve HTTP."
        ),
    )
    auth_token_ttl_s: int = Field(
        default=900,
        ge=30,
        le=8 * 3600,
        description="How long a login token lasts: at most a working day, since a stolen token "
        "works until it ends (or until the user's access changes).",
    )
    pipeline: Pipeline = Field(
        default=DEFAULT_PIPELINE,
        description='Stages as JSON in CRM_PIPELINE: {"stages": [{"name": "qualified", '
        '"win_probability": 0.1}, ...]}; the same in every service.',
    )
    workers: Literal["here", "elsewhere", "only"] = Field(
        default="here",
        description="The service's background workers (reporting's counting, scoring's model "
        "snapshots): `here`, in this process with everything else; `elsewhere`, in another "
        "process; `only`, this process runs them alone (with /health, /ready and /metrics, no "
        "consumer and no API). Apart, their CPU does not hold up the consumer's event loop.",
    )
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1, description="3 on a production cluster.")
    # Larger polls spread a transaction's and an offset commit's round trips over more events,
    # and let a handler do once what several events of one customer ask for: the pipeline bench
    # applied about 8,000 events/s with 500, 12,000-14,000 with 2,000; scoring 3,500-4,000/s
    # with 2,000, 6,000/s with 6,000. A poll takes what has arrived: a small one when idle.
    consumer_batch_size: int = Field(
        default=6000,
        ge=1,
        description="Records fetched together; each partition's share is one transaction.",
    )
    consumer_partition_fetch_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Bytes fetched from one partition at a time (Kafka's "
        "max.partition.fetch.bytes): at 1 MiB, a partition's share of a poll held about 1,700 "
        "events whatever consumer_batch_size said.",
    )
    consumer_fetch_wait_ms: int = Field(
        default=100,
        ge=1,
        le=500,
        description="The longest a fetch waits for records (Kafka's fetch.max.wait.ms), and a "
        "poll that found none before polling again. At Kafka's 500 ms, a fetch sent while the "
        "busy partitions' records were still being applied asked only for idle ones, the broker "
        "held it for the whole 500 ms, and the next fetch waited for it: events became visible "
        "in about 750 ms instead of 150 at 1,000 events/s.",
    )
    consumer_batch_deadline_s: float = Field(
        default=120,
        gt=0,
        description="After this, a failing event is dead-lettered at once: a batch must end "
        "well within Kafka's max.poll.interval.ms (300 s), or its partition stalls.",
    )
    inbox_retention_s: float = Field(
        default=7 * 24 * 3600,
        ge=3600,
        description="How long a consumed event id is remembered: a duplicate delivered later "
        "than this (a re-published event) would be applied again.",
    )
    park_timeout_s: float = Field(
        default=86400, gt=0, description="How long an event waits for its customer."
    )
    park_sweep_interval_s: float = Field(default=60, gt=0)
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    outbox_batch_size: int = Field(default=200, ge=1)
    retry_max_backoff_s: float = Field(default=10.0, gt=0)
    handler_attempts: int = Field(
        default=5,
        ge=1,
        description="Tries of a non-transient handler error before it is dead-lettered.",
    )

    @property
    def database_name(self) -> str:
        return f"{self.namespace}_{self.service_name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.namespace}.{self.service_name}"
