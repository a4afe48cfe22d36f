import uuid

from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerScored,
    DealClosed,
    DealClosedPayload,
    parse_event,
    topic_of,
)
from crm_scoring.bootstrap import ScoringSettings, bootstrap


async def test_each_event_about_a_customer_rescores_it_with_reasons_and_causation(settings_for, running, kafka):
    await running(bootstrap(settings_for(ScoringSettings)))
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    created = CustomerCreated(producer="test", customer_id=customer_id, payload=CustomerCreatedPayload(
        name="Scored Ltd", size="large", monthly_freight_volume_tons=500))
    won = DealClosed(producer="erp", customer_id=customer_id, correlation_id=created.correlation_id,
                     payload=DealClosedPayload(deal_id="d-1", outcome="won", amount="10", currency="CNY"))
    await kafka.publish(topic_of("CustomerCreated"), created.to_bytes(), key=created.key())
    await kafka.publish(topic_of("DealClosed"), won.to_bytes(), key=won.key())

    scored = await kafka.read(topic_of("CustomerScored"), kafka.where(customer_id=customer_id), expect=2, settle_s=1)
    events: list[CustomerScored] = [parse_event(record.value) for record in scored]
    assert {event.causation_id for event in events} == {created.event_id, won.event_id}
    assert all(event.correlation_id == created.correlation_id for event in events)
    # The two topics are not ordered with each other: whichever came second scores both facts.
    final = max((event.payload for event in events), key=lambda payload: payload.score)
    assert final.score == 50
    assert final.reasons == ["+20 freight volume 500 t/month", "+15 large company", "+15 1 deal(s) won"]
    assert {event.payload.score for event in events} - {50} <= {35, 15}
