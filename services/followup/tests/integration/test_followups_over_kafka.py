from crm_contracts import topic_of
from crm_followup.bootstrap import FollowupSettings, bootstrap

VISIT = {"customer_id": "c-followup-it", "salesperson_id": "sp-1", "channel": "call", "subject": "tender",
         "started_at": "2026-11-27T09:00:00Z", "ended_at": "2026-11-27T09:20:00Z", "outcome": "wants a quote"}


async def test_a_visit_and_a_deal_are_announced_once_each(settings_for, running, http, kafka):
    service = await running(bootstrap(settings_for(FollowupSettings)))
    async with http(service) as client:
        visit = await client.post("/visits", json=VISIT)
        deal = await client.post("/deals", json={"customer_id": "c-followup-it", "outcome": "lost",
                                                 "lost_reason": "price", "competitor": "SF Express"})
    assert (visit.status_code, deal.status_code) == (201, 201)

    topic = topic_of("VisitLogged")
    visits = await kafka.read(topic, kafka.where(event_id=visit.json()["event_id"]), settle_s=1)
    deals = await kafka.read(topic, kafka.where(event_id=deal.json()["event_id"]), settle_s=1)
    assert (len(visits), len(deals)) == (1, 1)
    assert b'"lost_reason":"price"' in deals[0].value


async def test_a_visit_that_ends_before_it_starts_is_a_422_and_nothing_is_emitted(settings_for, running, http):
    service = await running(bootstrap(settings_for(FollowupSettings)))
    before = await service.store.db["outbox"].count_documents({})
    async with http(service) as client:
        refused = await client.post("/visits", json={**VISIT, "ended_at": "2026-11-27T08:00:00Z"})
        won_without_amount = await client.post("/deals", json={"customer_id": "c-1", "outcome": "won"})
    assert refused.status_code == 422 and "ended_at is before started_at" in refused.text
    assert won_without_amount.status_code == 422 and "amount and currency" in won_without_amount.text
    assert await service.store.db["outbox"].count_documents({}) == before


async def test_a_salesperson_records_only_their_own_work_and_nobody_without_a_token(settings_for, running, http):
    service = await running(bootstrap(settings_for(FollowupSettings)))
    async with http(service, role="salesperson", salesperson_id="sp-1") as salesperson:
        own = await salesperson.post("/visits", json=VISIT)
        someone_elses = await salesperson.post("/visits", json={**VISIT, "salesperson_id": "sp-2"})
    async with http(service, role="ops") as ops:
        by_ops = await ops.post("/visits", json=VISIT)
    async with http(service, role=None) as anonymous:
        without_token = await anonymous.post("/visits", json=VISIT)
    assert (own.status_code, someone_elses.status_code) == (201, 403)
    assert (by_ops.status_code, without_token.status_code) == (403, 401)
