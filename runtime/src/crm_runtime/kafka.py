"""Kafka plumbing shared by the services: the broker (idempotent producer), topics, sending."""

import contextlib
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import TopicPartition
from crm_contracts import ALL_TOPICS, dead_letter_topic
from faststream.kafka import KafkaBroker

from crm_runtime.outbox import Send
from crm_runtime.settings import ServiceSettings


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
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
    """Creates every contract topic and its dead-letter topic if missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        wanted = [*ALL_TOPICS, *(dead_letter_topic(topic) for topic in ALL_TOPICS)]
        missing = [name for name in wanted if name not in set(await admin.list_topics())]
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
    bootstrap_servers: str, topics: list[str], timeout_ms: int = 10_000
) -> list[TopicPartition]:
    """Every partition of these topics, as the cluster describes them now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
