"""Run as a separate process by test_outbox: commits one event, then dies inside the relay.

    python relay_crash.py MONGODB_URI DATABASE BOOTSTRAP before-publish|after-publish

before-publish: the process exits (os._exit, no clean-up) when the relay is about to publish.
after-publish:  the broker acknowledges the record, then the process exits before marking it sent.
Prints the committed event's id first.
"""

import asyncio
import os
import sys

from crm_contracts import CustomerCreated, CustomerCreatedPayload
from crm_runtime.outbox import OutboxRelay
from crm_runtime.store import Store
from pymongo import AsyncMongoClient


async def main(uri: str, database: str, bootstrap: str, when: str) -> None:
    from aiokafka import AIOKafkaProducer

    store = Store(AsyncMongoClient(uri, tz_aware=True), database)
    await store.ensure_indexes()
    event = CustomerCreated(
        producer="relay-crash-test",
        customer_id="crash-1",
        payload=CustomerCreatedPayload(name="Crash Test Ltd"),
    )

    async def work(uow):
        await uow.db["customers"].insert_one(
            {"_id": event.customer_id + str(event.event_id)}, session=uow.session
        )
        uow.emit(event)

    await store.run(work)
    print(event.event_id, flush=True)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()

    async def send(topic, key, value, headers):
        if when == "before-publish":
            os._exit(3)
        await producer.send_and_wait(topic, value, key=key)

        async def then_die():
            os._exit(4)

        return then_die()

    await OutboxRelay(store, send).publish_pending()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
