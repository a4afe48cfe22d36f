"""Projections: each event updates the read models once (the consumer's inbox sees to that)."""

from datetime import datetime

from crm_contracts import (
    CustomerArchived,
    CustomerAssigned,
    CustomerCreated,
    CustomerRestored,
    CustomerScored,
    CustomerUpdated,
    DealClosed,
    Event,
    FollowupRevoked,
    FollowupUpdated,
    OpportunityOpened,
    ProposalAccepted,
    ProposalCreated,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    StageChanged,
    VisitLogged,
)
from crm_runtime.consumer import EventHandler
from crm_runtime.store import UnitOfWork

from crm_reporting import adapters
from crm_reporting.facts import FACT_HANDLERS


def _entry(event: Event, kind: str, at: datetime) -> dict:
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
    await adapters.update_profile(uow, event.customer_id, {"$set": {"profile": profile}})


async def on_visit_logged(event: VisitLogged, uow: UnitOfWork) -> None:
    await adapters.add_to_timeline(uow, _entry(event, "followup", event.payload.started_at))
    await adapters.update_profile(
        uow,
        event.customer_id,
        {
            "$inc": {"counts.followups": 1},
            "$setOnInsert": {"profile": None},
        },
    )


async def on_deal_closed(event: DealClosed, uow: UnitOfWork) -> None:
    await adapters.add_to_timeline(uow, _entry(event, "deal", event.occurred_at))
    counter = "counts.deals_won" if event.payload.outcome == "won" else "counts.deals_lost"
    await adapters.update_profile(
        uow, event.customer_id, {"$inc": {counter: 1}, "$setOnInsert": {"profile": None}}
    )


async def on_customer_scored(event: CustomerScored, uow: UnitOfWork) -> None:
    score = {**event.payload.model_dump(mode="json"), "occurred_at": event.occurred_at}
    await adapters.set_latest_score(uow, event.customer_id, score)


async def on_customer_updated(event: CustomerUpdated, uow: UnitOfWork) -> None:
    changed = event.payload.fields.model_dump(mode="json", include=set(event.payload.changed))
    await adapters.update_profile(
        uow, event.customer_id, {"$set": {f"profile.{k}": v for k, v in changed.items()}}
    )


async def on_customer_assigned(event: CustomerAssigned, uow: UnitOfWork) -> None:
    await adapters.update_profile(
        uow,
        event.customer_id,
        {"$set": {"owner_id": event.payload.owner_id}, "$setOnInsert": {"profile": None}},
    )


async def on_customer_archived(event: CustomerArchived, uow: UnitOfWork) -> None:
    await adapters.update_profile(
        uow, event.customer_id, {"$set": {"status": "archived"}, "$setOnInsert": {"profile": None}}
    )


async def on_customer_restored(event: CustomerRestored, uow: UnitOfWork) -> None:
    await adapters.update_profile(
        uow, event.customer_id, {"$set": {"status": "active"}, "$setOnInsert": {"profile": None}}
    )


async def on_followup_updated(event: FollowupUpdated, uow: UnitOfWork) -> None:
    followup = event.payload.followup
    await adapters.update_timeline_entry(
        uow,
        event.customer_id,
        followup.followup_id,
        {"details": followup.model_dump(mode="json"), "at": followup.started_at},
    )


async def on_followup_revoked(event: FollowupRevoked, uow: UnitOfWork) -> None:
    if await adapters.update_timeline_entry(
        uow,
        event.customer_id,
        event.payload.followup_id,
        {"revoked": True, "revoked_reason": event.payload.reason},
    ):
        await adapters.update_profile(uow, event.customer_id, {"$inc": {"counts.followups": -1}})


async def on_pipeline_event(event: OpportunityOpened | StageChanged, uow: UnitOfWork) -> None:
    payload = event.payload
    stage = payload.stage if isinstance(event, OpportunityOpened) else payload.to_stage
    await adapters.add_to_timeline(uow, _entry(event, "stage", event.occurred_at))
    await adapters.update_profile(
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


async def on_proposal_event(event: Event, uow: UnitOfWork) -> None:
    entry = _entry(event, "proposal", event.occurred_at)
    entry["details"]["event_type"] = event.event_type
    await adapters.add_to_timeline(uow, entry)
    await adapters.update_profile(uow, event.customer_id, {"$setOnInsert": {"profile": None}})


TIMELINE_HANDLERS: dict[type[Event], EventHandler] = {
    FollowupUpdated: on_followup_updated,
    FollowupRevoked: on_followup_revoked,
    OpportunityOpened: on_pipeline_event,
    StageChanged: on_pipeline_event,
    **dict.fromkeys(
        (ProposalCreated, ProposalRevised, ProposalWithdrawn, ProposalAccepted, ProposalRejected),
        on_proposal_event,
    ),
    CustomerUpdated: on_customer_updated,
    CustomerAssigned: on_customer_assigned,
    CustomerArchived: on_customer_archived,
    CustomerRestored: on_customer_restored,
    CustomerCreated: on_customer_created,
    VisitLogged: on_visit_logged,
    DealClosed: on_deal_closed,
    CustomerScored: on_customer_scored,
}


def _both(*handlers: EventHandler) -> EventHandler:
    async def handle(event: Event, uow: UnitOfWork) -> None:
        for handler in handlers:
            await handler(event, uow)

    return handle


# Every event updates the customer 360 (profile, timeline) and the facts the reports count, in one
# transaction.
HANDLERS: dict[type[Event], EventHandler] = {
    event_type: _both(
        *(h for h in (TIMELINE_HANDLERS.get(event_type), FACT_HANDLERS.get(event_type)) if h)
    )
    for event_type in {**TIMELINE_HANDLERS, **FACT_HANDLERS}
}
