"""Run as a separate process by test_batch_crash: a service that consumes a topic in batches and
dies (os._exit, no clean-up) while applying the `die_at`-th event it handles.

    python batch_crash.py BOOTSTRAP MONGODB_URI NAMESPACE TOPIC DIE_AT

Each event adds 1 to its customer's counter (a queued write, sent with the batch) and emits an
event (the outbox, same transaction). DIE_AT 0: never dies (runs until killed).
"""

import asyncio
import os
import sys

from crm_contracts import CustomerCreated, CustomerScored, CustomerScoredPayload
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import UnitOfWork
from pymongo import UpdateOne

COUNTS = "counts"
SECRET = "batch-crash-test-secret-of-at-least-32-bytes"


def spec(topic: str, die_at: int) -> ServiceSpec:
    handled = 0

    async def count(event: CustomerCreated, uow: UnitOfWork) -> None:
        nonlocal handled
        handled += 1
        if handled == die_at:
            os._exit(9)
        uow.write(COUNTS, UpdateOne({"_id": event.customer_id}, {"$inc": {"n": 1}}, upsert=True))
        uow.emit(
            CustomerScored(
                producer="batch-crash-test",
                customer_id=event.customer_id,
                causation_id=event.event_id,
                payload=CustomerScoredPayload(
                    score=1, tier="D", win_probability=0.5, reasons=["test"], rule_version="t"
                ),
            )
        )

    return ServiceSpec(
        title="batch-crash", subscribes_to=[topic], handlers={CustomerCreated: [count]}
    )


def settings(bootstrap: str, uri: str, namespace: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="batchcrash",
        kafka_bootstrap_servers=bootstrap,
        mongodb_uri=uri,
        namespace=namespace,
        auth_secret=SECRET,
        retry_max_backoff_s=1.0,
        # The relay stays idle: what matters is what was committed, not what was published.
        outbox_poll_interval_s=3600,
    )


async def main(bootstrap: str, uri: str, namespace: str, topic: str, die_at: str) -> None:
    service = Service(spec(topic, int(die_at)), settings(bootstrap, uri, namespace))
    service.relay.stop()
    await service.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
