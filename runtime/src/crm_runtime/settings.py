"""One settings model for every service: environment variables (or files in CRM_SECRETS_DIR), with
defaults for a local run."""

import os
from typing import Literal, Self

from crm_contracts.opportunity_events import Mode
from pydantic import AliasChoices, Field, FilePath, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from crm_runtime.pipeline import DEFAULT_PIPELINE, DEFAULT_SERVICE_MODES, Pipeline


class ServiceSettings(BaseSettings):
    """Read from CRM_* variables; the two connection strings also from their common names.

    Where CRM_SECRETS_DIR names a directory (Compose's /run/secrets, a mounted Kubernetes Secret),
    a file there named like a variable, in lower case (`crm_auth_secret`, `mongodb_uri`,
    `crm_kafka_sasl_password`), gives its value; a variable that is set wins over the file."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", populate_by_name=True)

    service_name: str = "crm"
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CRM_KAFKA_BOOTSTRAP_SERVERS"),
    )
    # A cluster's: PLAINTEXT suits only a broker on a private network (the local stack's).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: FilePath | None = Field(
        default=None,
        description="The CA that signed the brokers' certificates (PEM); else the system's.",
    )
    kafka_ssl_certfile: FilePath | None = Field(
        default=None, description="This client's certificate (PEM), where brokers ask for one."
    )
    kafka_ssl_keyfile: FilePath | None = None
    mongodb_uri: SecretStr = Field(
        default=SecretStr("mongodb://127.0.0.1:27017/?replicaSet=rs0"),
        validation_alias=AliasChoices("MONGODB_URI", "CRM_MONGODB_URI"),
        description="Credentials and TLS go in it (`mongodb://user:pass@host/?tls=true&"
        "tlsCAFile=/path&authSource=admin`): a secret, never logged.",
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
    service_modes: tuple[Mode, ...] = Field(
        default=DEFAULT_SERVICE_MODES,
        min_length=1,
        description='The modes a service line may have, as JSON in CRM_SERVICE_MODES: ["ftl", '
        '"ltl", ...]; the same in every service.',
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        secrets_dir = os.environ.get("CRM_SECRETS_DIR")
        if not secrets_dir:
            return init_settings, env_settings
        return init_settings, env_settings, SecretsSettingsSource(settings_cls, secrets_dir)

    @model_validator(mode="after")
    def _modes_distinct(self) -> Self:
        if len(set(self.service_modes)) != len(self.service_modes):
            raise ValueError(f"CRM_SERVICE_MODES repeats a mode: {list(self.service_modes)}")
        return self

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Self:
        """A half-configured connection would fail later, on the broker, with a vaguer error."""
        sasl = self.kafka_security_protocol.startswith("SASL_")
        has_credentials = self.kafka_sasl_username is not None or self.kafka_sasl_password
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"CRM_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "CRM_KAFKA_SASL_USERNAME and CRM_KAFKA_SASL_PASSWORD"
            )
        if has_credentials and not sasl:
            raise ValueError(
                "CRM_KAFKA_SASL_USERNAME/PASSWORD are set but CRM_KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}: set it to SASL_SSL, or they would go unused"
            )
        tls_files = self.kafka_ssl_cafile or self.kafka_ssl_certfile or self.kafka_ssl_keyfile
        if tls_files and not self.kafka_security_protocol.endswith("SSL"):
            raise ValueError(
                "CRM_KAFKA_SSL_* files are set but CRM_KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}: set it to SSL or SASL_SSL"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("CRM_KAFKA_SSL_KEYFILE needs CRM_KAFKA_SSL_CERTFILE")
        return self

    @property
    def database_name(self) -> str:
        return f"{self.namespace}_{self.service_name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.namespace}.{self.service_name}"
