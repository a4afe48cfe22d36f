"""The follow-up service running on real Kafka and mongod, and customers it has learnt of."""

import uuid

import pytest
from crm_contracts import CustomerCreated, CustomerCreatedPayload, topic_of
from crm_followup.bootstrap import bootstrap
from crm_followup.settings import FollowupSettings

START, END = "2026-11-27T09:00:00Z", "2026-11-27T09:20:00Z"


@pytest.fixture
async def service(settings_for, running):
    return await running(bootstrap(settings_for(FollowupSettings)))


@pytest.fixture
async def known_customer(service, kafka, eventually):
    """A customer the follow-up service has learnt of from the customer topic, owned by sp-1."""

    async def make(owner: str = "sp-1") -> str:
        event = CustomerCreated(
            producer="customer",
            customer_id=f"c-{uuid.uuid4().hex[:8]}",
            payload=CustomerCreatedPayload(name="Known Ltd", owner_id=owner),
        )
        await kafka.publish(topic_of("CustomerCreated"), event.to_bytes(), key=event.key())
        await eventually(
            lambda: service.store.db["known_customers"].find_one({"_id": event.customer_id})
        )
        return event.customer_id

    return make


@pytest.fixture(scope="session")
def visit():
    """visit(customer_id, **fields): the body of a follow-up credited to sp-1."""

    def make(customer_id: str, **fields) -> dict:
        return {
            "customer_id": customer_id,
            "salesperson_id": "sp-1",
            "channel": "call",
            "subject": "tender",
            "started_at": START,
            "ended_at": END,
            "outcome": "wants a quote",
            **fields,
        }

    return make
