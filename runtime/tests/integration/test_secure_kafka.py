"""A service on a broker's SASL_SSL listener, as on a production cluster: TLS checked against the
cluster's CA, a SCRAM-SHA-512 login; its broker, topic set-up and readiness all connect so."""

import uuid

import pytest
from crm_contracts import CustomerCreated, CustomerCreatedPayload
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings


async def remember(event, uow):
    await uow.db["seen"].insert_one({"_id": str(event.event_id)}, session=uow.session)


@pytest.fixture
def secure_settings(infra, settings_for):
    def make(**overrides):
        secure = infra.kafka_secure
        given = {
            "service_name": f"secure{uuid.uuid4().hex[:6]}",
            "kafka_bootstrap_servers": secure["bootstrap_servers"],
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": secure["username"],
            "kafka_sasl_password": secure["password"],
            "kafka_ssl_cafile": secure["cafile"],
        }
        return settings_for(ServiceSettings, **{**given, **overrides})

    return make


async def test_a_service_consumes_publishes_and_reports_its_lag_over_sasl_ssl(
    secure_settings, running, http, eventually
):
    settings = secure_settings()
    topic = f"test.{settings.namespace}.{settings.service_name}"
    spec = ServiceSpec(
        title="secure", subscribes_to=[topic], handlers={CustomerCreated: [remember]}
    )
    service = await running(Service(spec, settings))
    events = [
        CustomerCreated(
            producer="test", customer_id=f"c-{n}", payload=CustomerCreatedPayload(name=f"N{n}")
        )
        for n in range(5)
    ]
    for event in events:  # through the service's own broker: its producer logs in too
        await service.broker.publish(event.to_bytes(), topic=topic, key=event.key())

    async def all_applied():
        return await service.store.db["seen"].count_documents({}) == len(events) or None

    await eventually(all_applied)

    async def ready_with_no_lag():
        async with http(service, role=None) as probe:
            answer = (await probe.get("/ready")).json()
        return answer if answer.get("lag", {}).get("total") == 0 else None

    ready = await eventually(ready_with_no_lag)
    assert ready["kafka"] == "ok" and ready["ready"] is True


async def test_a_wrong_password_is_not_ready_and_says_why(secure_settings, http):
    settings = secure_settings(kafka_sasl_password="not-the-password")
    service = Service(ServiceSpec(title="secure", subscribes_to=["crm.customer.events"]), settings)
    async with http(service, role=None) as probe:
        answer = await probe.get("/ready")
    assert answer.status_code == 503 and answer.json()["ready"] is False
    assert "KafkaConnectionError" in answer.json()["kafka"]
    await service.client.close()
