"""Topics at start-up: created when missing, and a word when they have fewer partitions than the
instances were sized for."""

from crm_contracts import ALL_TOPICS
from crm_runtime.kafka import ensure_topics, topic_partitions
from crm_runtime.settings import ServiceSettings
from structlog.testing import capture_logs


async def test_a_topic_with_fewer_partitions_than_the_setting_is_reported_not_grown(settings_for):
    settings = settings_for(ServiceSettings, topic_partitions=1)
    await ensure_topics(settings)
    before = await topic_partitions(settings, list(ALL_TOPICS))
    larger = settings.model_copy(update={"topic_partitions": len(before) + 1})
    with capture_logs() as logs:
        await ensure_topics(larger)
    warned = [entry for entry in logs if entry["log_level"] == "warning"]
    assert {entry["topic"] for entry in warned} == set(ALL_TOPICS)
    assert all(entry["setting"] == len(before) + 1 for entry in warned)
    assert await topic_partitions(settings, list(ALL_TOPICS)) == before
