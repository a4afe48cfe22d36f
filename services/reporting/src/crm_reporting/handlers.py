"""Projections: each event updates the read models once (the consumer's inbox sees to that)."""

from datetime import datetime
from typing import Any

from crm_contracts import (
    CompetitorRecorded,
    ContactAdded,
    ContactRemoved,
    ContactUpdated,
    CustomerArchived,
    CustomerAssigned,
    CustomerCreated,
    CustomerRestored,
    CustomerScored,
    CustomersMerged,
    CustomersUnmerged,
    CustomerUpdated,
    DealClosed,
    Event,
    FinancialsRecorded,
    FollowupRevoked,
    FollowupUpdated,
    OpportunityOpened,
    OpportunityUpdated,
    ProposalAccepted,
    ProposalCreated,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    QuotaSet,
    SalespersonRegistered,
    SalespersonUpdated,
    StageChanged,
    VisitLogged,
)
from crm_runtime.handlers import EventHandlers
from crm_runtime.store import UnitOfWork

from crm_reporting import facts, projection, targets
from crm_reporting.facts import LOGGED, ProposalEvent


def _entry(event: Event, kind: str, at: datetime) -> dict[str, Any]:
    """`at` is when the activity happened; `occurred_at` when its event was emitted."""
    return {
        "_id": str(event.event_id),
        "customer_id": event.customer_id,
        "kind": kind,
        "at": at,
        "occurred_at": event.occurred_at,
        "producer": event.producer,
        "details": event.payload.model_dump(mode="json"),
    }


async def on_customer_created(event: CustomerCreated, uow: UnitOfWork) -> None:
    profile = {**event.payload.model_dump(mode="json"), "created_at": event.occurred_at}
    await projection.describe(uow, event.customer_id, profile, whole=True)


async def on_visit_logged(event: VisitLogged, uow: UnitOfWork) -> None:
    entry = _entry(event, "followup", event.payload.started_at)
    # An update that came first is kept by the fact: the entry shows the follow-up as it is now.
    fact = await projection.followup_fact(uow, event.payload.followup_id)
    if fact is not None and fact.get("version", LOGGED) > LOGGED:
        entry.update(details=fact["details"], at=fact["at"], version=fact["version"])
    await projection.add_to_timeline(uow, entry)
    await projection.update_profile(
        uow,
        event.customer_id,
        {
            "$inc": {"counts.followups": 1},
            "$setOnInsert": {"profile": None},
        },
    )


async def on_deal_closed(event: DealClosed, uow: UnitOfWork) -> None:
    await projection.add_to_timeline(uow, _entry(event, "deal", event.occurred_at))
    counter = "counts.deals_won" if event.payload.outcome == "won" else "counts.deals_lost"
    await projection.update_profile(
        uow, event.customer_id, {"$inc": {counter: 1}, "$setOnInsert": {"profile": None}}
    )


async def on_customer_scored(event: CustomerScored, uow: UnitOfWork) -> None:
    score = {**event.payload.model_dump(mode="json"), "occurred_at": event.occurred_at}
    await projection.set_latest(uow, event.customer_id, "latest_score", score)


async def on_customer_updated(event: CustomerUpdated, uow: UnitOfWork) -> None:
    changed = event.payload.fields.model_dump(mode="json", include=set(event.payload.changed))
    await projection.describe(uow, event.customer_id, changed, whole=False)


async def on_customer_assigned(event: CustomerAssigned, uow: UnitOfWork) -> None:
    await projection.update_profile(
        uow,
        event.customer_id,
        {"$set": {"owner_id": event.payload.owner_id}, "$setOnInsert": {"profile": None}},
    )


async def on_customer_archived(event: CustomerArchived, uow: UnitOfWork) -> None:
    await projection.update_profile(
        uow, event.customer_id, {"$set": {"status": "archived"}, "$setOnInsert": {"profile": None}}
    )


async def on_customer_restored(event: CustomerRestored, uow: UnitOfWork) -> None:
    await projection.update_profile(
        uow, event.customer_id, {"$set": {"status": "active"}, "$setOnInsert": {"profile": None}}
    )


async def on_followup_updated(event: FollowupUpdated, uow: UnitOfWork) -> None:
    followup = event.payload.followup
    await projection.update_followup_entries(
        uow,
        event.customer_id,
        followup.followup_id,
        {"details": followup.model_dump(mode="json"), "at": followup.started_at},
        event.payload.version,
    )


async def on_followup_revoked(event: FollowupRevoked, uow: UnitOfWork) -> None:
    payload = event.payload
    if revoked := await projection.revoke_followup_entries(
        uow, event.customer_id, payload.followup_id, payload.reason
    ):
        await projection.update_profile(
            uow, event.customer_id, {"$inc": {"counts.followups": -revoked}}
        )


async def on_pipeline_event(event: OpportunityOpened | StageChanged, uow: UnitOfWork) -> None:
    payload = event.payload
    stage = facts.stage_of(event)
    await projection.add_to_timeline(uow, _entry(event, "stage", event.occurred_at))
    await projection.update_profile(
        uow,
        event.customer_id,
        {
            "$set": {
                "pipeline": {
                    "opportunity_id": payload.opportunity_id,
                    "stage": stage,
                    "win_probability": payload.win_probability,
                    "since": event.occurred_at,
                }
            },
            "$setOnInsert": {"profile": None},
        },
    )


async def on_proposal_event(event: ProposalEvent, uow: UnitOfWork) -> None:
    entry = _entry(event, "proposal", event.occurred_at)
    entry["details"]["event_type"] = event.event_type
    await projection.add_to_timeline(uow, entry)
    await projection.update_profile(uow, event.customer_id, {"$setOnInsert": {"profile": None}})


async def on_competitor_recorded(event: CompetitorRecorded, uow: UnitOfWork) -> None:
    competitor = event.payload.model_dump(mode="json")
    await projection.update_profile(
        uow,
        event.customer_id,
        {
            "$set": {f"competitors.{competitor.pop('competitor_id')}": competitor},
            "$setOnInsert": {"profile": None},
        },
    )


async def on_financials_recorded(event: FinancialsRecorded, uow: UnitOfWork) -> None:
    """The ratios of the latest year of the latest statements recorded."""
    ratios = sorted(event.payload.ratios, key=lambda ratio: ratio.year)
    latest = ratios[-1].model_dump(mode="json") if ratios else None
    financials = {"ratios": latest, "occurred_at": event.occurred_at}
    await projection.set_latest(uow, event.customer_id, "financials", financials)


async def on_customers_merged(event: CustomersMerged, uow: UnitOfWork) -> None:
    await projection.merge(uow, event.payload.merged_id, event.customer_id)


async def on_customers_unmerged(event: CustomersUnmerged, uow: UnitOfWork) -> None:
    await projection.unmerge(uow, event.payload.restored_id)


# Every event updates the customer 360 (profile, timeline) and the facts the reports count, in one
# transaction, in this order.
EVENT_HANDLERS: EventHandlers = {
    CustomerCreated: [on_customer_created, facts.customer_created],
    CustomerUpdated: [on_customer_updated, facts.customer_updated],
    CustomerAssigned: [on_customer_assigned, facts.customer_assigned],
    CustomerArchived: [on_customer_archived],
    CustomerRestored: [on_customer_restored],
    CustomersMerged: [on_customers_merged],
    CustomersUnmerged: [on_customers_unmerged],
    CustomerScored: [on_customer_scored, facts.customer_scored],
    ContactAdded: [facts.contact_changed],
    ContactUpdated: [facts.contact_changed],
    ContactRemoved: [facts.contact_removed],
    CompetitorRecorded: [on_competitor_recorded],
    FinancialsRecorded: [on_financials_recorded],
    VisitLogged: [on_visit_logged, facts.visit_logged],
    FollowupUpdated: [on_followup_updated, facts.followup_updated],
    FollowupRevoked: [on_followup_revoked, facts.followup_revoked],
    DealClosed: [on_deal_closed, facts.deal_closed],
    OpportunityOpened: [on_pipeline_event, facts.pipeline_moved],
    StageChanged: [on_pipeline_event, facts.pipeline_moved],
    OpportunityUpdated: [facts.opportunity_updated],
    QuotaSet: [targets.on_quota_set],
    SalespersonRegistered: [targets.on_salesperson],
    SalespersonUpdated: [targets.on_salesperson],
    ProposalCreated: [on_proposal_event, facts.proposal_changed],
    ProposalRevised: [on_proposal_event, facts.proposal_changed],
    ProposalWithdrawn: [on_proposal_event, facts.proposal_changed],
    ProposalAccepted: [on_proposal_event, facts.proposal_changed],
    ProposalRejected: [on_proposal_event, facts.proposal_changed],
}
