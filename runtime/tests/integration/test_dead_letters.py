"""Dead letters are remembered in MongoDB: a record, or an event, dead-lettered once is neither sent
to the dead-letter topic nor counted again when it comes back."""

import pytest
from crm_contracts import CustomerCreated, CustomerCreatedPayload, topic_of
from crm_runtime.dead_letters import DEAD_LETTERS, DeadLetters
from crm_runtime.records import Record

TOPIC = topic_of("CustomerCreated")


class DeadLetterTopic:
    """Stands for the broker: keeps what was sent, and acknowledges it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def __call__(self, topic, key, value, headers):
        self.sent.append((topic, value))

        async def acknowledged():
            return None

        return acknowledged()


@pytest.fixture
def dead_letters(store):
    topic, reasons = DeadLetterTopic(), []
    return DeadLetters(topic, store, "test-group", 0.01, counted=reasons.append), topic, reasons


def copy_at(offset: int, value: bytes) -> Record:
    return Record(TOPIC, 0, offset, b"c-1", value)


async def test_a_record_dead_lettered_twice_is_sent_and_counted_once(store, dead_letters):
    letters, topic, reasons = dead_letters
    malformed = copy_at(7, b"{not json")

    await letters.put(malformed, ValueError("not JSON"))
    await letters.put(
        malformed, ValueError("not JSON")
    )  # redelivered: the offset was not committed

    assert len(topic.sent) == 1
    assert reasons == ["handler-failed"]
    assert await store.db[DEAD_LETTERS].count_documents({}) == 1


async def test_another_copy_of_a_dead_lettered_event_is_not_sent_again(store, dead_letters):
    letters, topic, reasons = dead_letters
    event = CustomerCreated(
        producer="test", customer_id="c-1", payload=CustomerCreatedPayload(name="Acme")
    )
    event_id = str(event.event_id)

    await letters.put(copy_at(3, event.to_bytes()), RuntimeError("boom"), event_id=event_id)
    # The outbox published the event again (at least once): a copy at another offset.
    await letters.put(copy_at(9, event.to_bytes()), RuntimeError("boom"), event_id=event_id)

    assert len(topic.sent) == 1
    assert reasons == ["handler-failed"]
    recorded = await store.db[DEAD_LETTERS].find_one({"_id": f"{TOPIC}:0:3"})
    assert recorded["event_id"] == event_id
    assert await store.db[DEAD_LETTERS].count_documents({}) == 1


async def test_a_record_without_an_event_id_is_recorded_without_one(store, dead_letters):
    letters, _, _ = dead_letters

    await letters.put(copy_at(5, b"{not json"), ValueError("not JSON"))

    assert "event_id" not in await store.db[DEAD_LETTERS].find_one({"_id": f"{TOPIC}:0:5"})
