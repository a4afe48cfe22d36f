"""Kafka plumbing shared by the services: the broker (idempotent producer), how every client
connects (TLS, SASL), topics, sending."""

import contextlib
import logging
import ssl
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import TopicPartition
from crm_contracts import ALL_TOPICS, dead_letter_topic
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from crm_runtime.outbox import Send
from crm_runtime.settings import ServiceSettings

log = structlog.get_logger(__name__)
SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The connection's security in FastStream's terms (None: plaintext, no login)."""
    protocol = settings.kafka_security_protocol
    context = None
    if protocol.endswith("SSL"):
        # Verifies the brokers' certificates and host names, against the system's CAs by default.
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    if protocol.startswith("SASL_"):
        assert settings.kafka_sasl_username and settings.kafka_sasl_password  # the settings check
        return SASL[settings.kafka_sasl_mechanism](
            settings.kafka_sasl_username,
            settings.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=context is not None,
        )
    return BaseSecurity(ssl_context=context) if context else None


def kafka_options(settings: ServiceSettings) -> dict[str, Any]:
    """What every aiokafka client outside the broker (admin, readers) connects with: the broker's
    own security, translated by FastStream, so that no client can connect otherwise."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        **parse_security(kafka_security(settings)),
    }


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
        client_id=f"{settings.namespace}.{settings.service_name}",
        enable_idempotence=True,  # broker-side dedup of producer retries, per-partition order kept
        acks="all",
        # FastStream logs "Received"/"Processed" per batch at this level: DEBUG keeps them out of an
        # INFO log, while its errors still come through.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


def sender(broker: KafkaBroker) -> Send:
    async def send(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> Any:
        correlation_id = headers.get("correlation_id")  # else FastStream sets a random one
        return await broker.publish(
            value,
            topic=topic,
            key=key,
            headers=headers,
            correlation_id=correlation_id,
            no_confirm=True,
        )

    return send


async def ensure_topics(settings: ServiceSettings) -> None:
    """Creates every contract topic and its dead-letter topic if missing; says so when an existing
    one has fewer partitions than the setting (never grows one: see the README's Partitions)."""
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        wanted = [*ALL_TOPICS, *(dead_letter_topic(topic) for topic in ALL_TOPICS)]
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        for topic in await admin.describe_topics([t for t in ALL_TOPICS if t in existing]):
            if len(topic["partitions"]) < settings.topic_partitions:
                log.warning(
                    "topic has fewer partitions than CRM_TOPIC_PARTITIONS: instances beyond "
                    "its partitions stay idle; grow it as the README says",
                    topic=topic["topic"],
                    partitions=len(topic["partitions"]),
                    setting=settings.topic_partitions,
                )
        if missing:
            # TopicAlreadyExistsError: another instance created them meanwhile
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)
                        for name in missing
                    ]
                )
    finally:
        await admin.close()


async def topic_partitions(
    settings: ServiceSettings, topics: list[str], timeout_ms: int = 10_000
) -> list[TopicPartition]:
    """Every partition of these topics, as the cluster describes them now."""
    admin = AIOKafkaAdminClient(**kafka_options(settings), request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        return await partitions_of(admin, topics)
    finally:
        await admin.close()


async def partitions_of(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in await admin.describe_topics(topics)
        for partition in topic["partitions"]
    ]
