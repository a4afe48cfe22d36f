"""The replay command's reading and report, on a real broker, with topics of its own."""

import uuid
from datetime import UTC, datetime, timedelta

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from crm_contracts import CustomerCreated, CustomerCreatedPayload, DealClosed, DealClosedPayload
from crm_runtime.settings import ServiceSettings
from crm_scoring.replay import read_history, report, run


async def test_the_history_is_read_to_its_end_in_time_order_and_backtested_per_model(
    infra, kafka, settings_for
):
    topics = (f"replay.{uuid.uuid4().hex[:8]}.a", f"replay.{uuid.uuid4().hex[:8]}.b")
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, 2, 1) for name in topics])
    await admin.close()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for n in range(40):
        industry = "cold chain" if n % 2 else "mining"
        created = CustomerCreated(
            producer="erp",
            customer_id=f"r-{n}",
            occurred_at=start + timedelta(days=n),
            payload=CustomerCreatedPayload(name=f"R {n}", industry=industry),
        )
        won = n % 2 == 1
        deal = DealClosed(
            producer="erp",
            customer_id=f"r-{n}",
            occurred_at=start + timedelta(days=n, hours=1),
            payload=DealClosedPayload(
                deal_id=f"d-{n}",
                outcome="won" if won else "lost",
                **({"amount": "1", "currency": "CNY"} if won else {"lost_reason": "price"}),
            ),
        )
        events += [created, deal]
    for event in reversed(events):  # published out of order, across two topics
        await kafka.publish(topics[events.index(event) % 2], event.to_bytes(), key=event.key())
    await kafka.publish(topics[0], b"not an event")

    history = await read_history(settings_for(ServiceSettings), topics)
    assert [e.event_id for e in history] == [e.event_id for e in events]
    tests = await run(["value-v1", "value-v2"], history)
    assert [len(t.predictions) for t in tests] == [40, 40]
    assert tests[0].auc() > 0.5, "once cold chain wins and mining loses, the model ranks them so"
    printed = report(tests, len(history))
    assert "80 events replayed" in printed and "value-v1" in printed and "value-v2" in printed
