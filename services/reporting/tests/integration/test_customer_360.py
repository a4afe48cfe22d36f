"""The customer 360 and the reports across a customer's competitors, financials and merges."""

import uuid
from datetime import UTC, datetime, timedelta

from crm_contracts import (
    CompetitorRecorded,
    CompetitorRecordedPayload,
    CustomerArchived,
    CustomerArchivedPayload,
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerRestored,
    CustomerRestoredPayload,
    CustomersMerged,
    CustomersMergedPayload,
    CustomersUnmerged,
    CustomersUnmergedPayload,
    DealClosed,
    DealClosedPayload,
    FinancialRatios,
    FinancialsRecorded,
    FinancialsRecordedPayload,
    FinancialStatement,
    VisitLogged,
    VisitLoggedPayload,
    topic_of,
)
from crm_reporting import counters
from crm_reporting.bootstrap import bootstrap
from crm_reporting.settings import ReportingSettings

DAY = timedelta(days=1)
START = datetime(2021, 3, 1, tzinfo=UTC)


def new_id() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


async def applied(service, kafka, eventually, *events) -> None:
    for event in events:
        await kafka.publish(topic_of(event.event_type), event.to_bytes(), key=event.key())
    ids = [str(event.event_id) for event in events]

    async def all_applied():
        inbox = service.store.db["processed_events"]
        applied = await inbox.count_documents({"_id": {"$in": ids}}) == len(ids)
        return applied and await counters.pending(service.store) == 0  # and counted

    await eventually(all_applied)


def history(customer_id: str, region: str, product_line: str, n: int) -> list:
    """A customer of sp-m created, followed up and won, on day n of the period."""
    at = START + n * DAY
    return [
        CustomerCreated(
            producer="customer",
            customer_id=customer_id,
            occurred_at=at,
            payload=CustomerCreatedPayload(name=f"Merge {n}", region=region),
        ),
        CustomerAssigned(
            producer="customer",
            customer_id=customer_id,
            occurred_at=at,
            payload=CustomerAssignedPayload(
                owner_id="sp-m", trigger="created", reason="new customer", why="test"
            ),
        ),
        VisitLogged(
            producer="followup",
            customer_id=customer_id,
            occurred_at=at + DAY,
            payload=VisitLoggedPayload(
                followup_id=f"f-{uuid.uuid4().hex[:8]}",
                salesperson_id="sp-m",
                channel="visit",
                subject="s",
                started_at=at + DAY,
                ended_at=at + DAY + timedelta(hours=1),
            ),
        ),
        DealClosed(
            producer="followup",
            customer_id=customer_id,
            occurred_at=at + 2 * DAY,
            payload=DealClosedPayload(
                deal_id=f"d-{uuid.uuid4().hex[:8]}",
                salesperson_id="sp-m",
                outcome="won",
                amount="100.00",
                currency="CNY",
                product_lines=[product_line],
            ),
        ),
    ]


async def test_the_360_shows_the_customers_competitors_and_latest_financial_ratios(
    settings_for, running, http, kafka, eventually
):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    customer_id = new_id()

    def competitor(competitor_id: str, name: str, share: float) -> CompetitorRecorded:
        return CompetitorRecorded(
            producer="customer",
            customer_id=customer_id,
            payload=CompetitorRecordedPayload(competitor_id=competitor_id, name=name, share=share),
        )

    def financials(year: int, current_ratio: float, at: datetime) -> FinancialsRecorded:
        return FinancialsRecorded(
            producer="customer",
            customer_id=customer_id,
            occurred_at=at,
            payload=FinancialsRecordedPayload(
                statements=[FinancialStatement(year=year)],
                ratios=[
                    FinancialRatios(year=year - 1, current_ratio=0.5),
                    FinancialRatios(year=year, current_ratio=current_ratio),
                ],
            ),
        )

    await applied(
        service,
        kafka,
        eventually,
        CustomerCreated(
            producer="customer",
            customer_id=customer_id,
            payload=CustomerCreatedPayload(name="Rivals Ltd"),
        ),
        competitor("k-1", "Fast Freight", 0.3),
        competitor("k-2", "Slow Freight", 0.1),
        competitor("k-1", "Fast Freight", 0.4),
        financials(2025, 1.8, START + 10 * DAY),
        financials(2024, 1.2, START),  # recorded before, delivered late
    )
    async with http(service, role="manager") as manager:
        report = (await manager.get(f"/customers/{customer_id}")).json()
    assert sorted(report["competitors"], key=lambda c: c["competitor_id"]) == [
        {
            "competitor_id": "k-1",
            "name": "Fast Freight",
            "share": 0.4,
            "contract_end": None,
            "notes": None,
        },
        {
            "competitor_id": "k-2",
            "name": "Slow Freight",
            "share": 0.1,
            "contract_end": None,
            "notes": None,
        },
    ]
    assert report["financial_ratios"]["year"] == 2025
    assert report["financial_ratios"]["current_ratio"] == 1.8


async def test_a_merged_customer_counts_once_under_the_survivor_and_apart_again_once_unmerged(
    settings_for, running, http, kafka, eventually
):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    region = f"merge-{uuid.uuid4().hex[:6]}"
    survivor, merged = new_id(), new_id()
    await applied(
        service,
        kafka,
        eventually,
        *history(survivor, region, "FTL", 1),
        *history(merged, region, "warehousing", 5),
    )
    period = {"since": START.isoformat(), "until": (START + 60 * DAY).isoformat()}

    async def reports() -> dict:
        async with http(service, role="manager") as manager:
            scorecard = (
                await manager.get("/reports/scorecard", params={**period, "region": region})
            ).json()
            lifecycle = (await manager.get("/reports/lifecycle", params={"region": region})).json()
            value = (await manager.get("/reports/value", params={"region": region})).json()
            the_360 = (await manager.get(f"/customers/{survivor}")).json()
        [row] = scorecard["rows"]
        return {
            "leads": row["new_leads"],
            "active": row["active_customers"],
            "lost_or_dormant": row["customers_lost_or_dormant"],
            "cross_selling": row["cross_selling_customers"],
            "won": row["deals_won"],
            "cycle_days": row["average_sales_cycle_days"],
            "lifecycle_customers": lifecycle["customers"],
            "value_customers": sum(r["customers"] for r in value["rows"]),
            "360_counts": the_360["counts"],
            "360_timeline": len(the_360["timeline"]),
        }

    apart = {
        "leads": 2,
        "active": 2,
        "lost_or_dormant": 0,
        "cross_selling": 0,
        "won": 2,
        "cycle_days": 2.0,
        "lifecycle_customers": 2,
        "value_customers": 2,
        "360_counts": {"followups": 1, "deals_won": 1, "deals_lost": 0},
        "360_timeline": 2,
    }
    assert await reports() == apart

    await applied(
        service,
        kafka,
        eventually,
        CustomersMerged(
            producer="customer",
            customer_id=survivor,
            payload=CustomersMergedPayload(merged_id=merged, reason="duplicate"),
        ),
        CustomerArchived(
            producer="customer",
            customer_id=merged,
            payload=CustomerArchivedPayload(version=3, reason="merged", merged_into=survivor),
        ),
    )
    assert await reports() == {
        "leads": 1,
        "active": 1,
        "lost_or_dormant": 0,
        "cross_selling": 1,  # FTL and warehousing, now of one customer
        "won": 2,
        "cycle_days": 4.0,  # both deals from the survivor's creation: 2 and 6 days
        "lifecycle_customers": 1,
        "value_customers": 1,
        "360_counts": {"followups": 2, "deals_won": 2, "deals_lost": 0},
        "360_timeline": 4,
    }

    await applied(
        service,
        kafka,
        eventually,
        CustomersUnmerged(
            producer="customer",
            customer_id=survivor,
            payload=CustomersUnmergedPayload(restored_id=merged, reason="not a duplicate"),
        ),
        CustomerRestored(
            producer="customer",
            customer_id=merged,
            payload=CustomerRestoredPayload(version=4, reason="unmerged"),
        ),
    )
    assert await reports() == apart


def _merge(survivor: str, merged: str) -> CustomersMerged:
    return CustomersMerged(
        producer="customer",
        customer_id=survivor,
        payload=CustomersMergedPayload(merged_id=merged, reason="duplicate"),
    )


async def test_a_late_fact_of_a_customer_merged_along_a_chain_counts_under_its_end(
    settings_for, running, kafka, eventually
):
    service = await running(bootstrap(settings_for(ReportingSettings)))
    region = f"chain-{uuid.uuid4().hex[:6]}"
    first, middle, last = new_id(), new_id(), new_id()
    created = [history(c, region, "FTL", n)[0] for n, c in enumerate((first, middle, last))]
    await applied(service, kafka, eventually, *created)
    await applied(service, kafka, eventually, _merge(middle, first), _merge(last, middle))
    late = history(first, region, "FTL", 9)[3]  # a deal of `first`, after both merges
    await applied(service, kafka, eventually, late)

    async def accounts_of_firsts_deals() -> list[str]:
        deals = service.store.db["fact_deals"].find({"customer_id": first}, {"account_id": 1})
        return sorted(deal["account_id"] for deal in await deals.to_list())

    assert await accounts_of_firsts_deals() == [last]
    unmerged = CustomersUnmerged(
        producer="customer",
        customer_id=last,
        payload=CustomersUnmergedPayload(restored_id=middle, reason="not a duplicate"),
    )
    await applied(service, kafka, eventually, unmerged, history(first, region, "LTL", 10)[3])
    assert await accounts_of_firsts_deals() == [middle, middle]  # `first` is still in `middle`


async def test_facts_stored_before_merges_were_projected_get_their_own_account_at_start(
    settings_for, running, http
):
    settings = settings_for(ReportingSettings)
    old_fact = {"_id": "d-old", "customer_id": "c-old", "outcome": "won", "closed_at": START}
    service = bootstrap(settings)
    await service.store.db["fact_deals"].insert_one(old_fact)
    await running(service)
    found = await service.store.db["fact_deals"].find_one({"_id": "d-old"})
    assert found["account_id"] == "c-old"
    async with http(service, role="manager") as manager:
        assert (await manager.get("/reports/lifecycle")).status_code == 200
