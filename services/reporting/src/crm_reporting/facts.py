"""Fact projections the reports are computed from: one document per follow-up, deal,
opportunity and proposal, and segment fields on each customer's profile. Each write is keyed by
the thing's own id, so a projection applied in any order ends in the same state."""

from datetime import datetime
from typing import Any

from crm_contracts import (
    ContactAdded,
    ContactRemoved,
    ContactUpdated,
    CustomerAssigned,
    CustomerCreated,
    CustomerScored,
    CustomerUpdated,
    DealClosed,
    FollowupRevoked,
    FollowupUpdated,
    OpportunityOpened,
    OpportunityOpenedPayload,
    OpportunityTerms,
    OpportunityUpdated,
    ProposalAccepted,
    ProposalCreated,
    ProposalPayload,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    ServiceLine,
    StageChanged,
    VisitLogged,
    VisitLoggedPayload,
)
from crm_runtime.store import UnitOfWork

from crm_reporting.adapters import DEALS, FOLLOWUPS, OPPORTUNITIES, PROFILES, PROPOSALS
from crm_reporting.bands import freight_band
from crm_reporting.projection import (
    followup_as_of,
    update_fact_if,
    update_profile,
    update_unless_later,
    upsert_fact,
)

SEGMENT = ("region", "industry", "size", "nature", "monthly_freight_volume_tons")
PROPOSAL_STATUS = {
    "ProposalCreated": "open",
    "ProposalRevised": "open",
    "ProposalAccepted": "accepted",
    "ProposalRejected": "rejected",
    "ProposalWithdrawn": "withdrawn",
}
LOGGED = 0  # the version of a follow-up as logged; FollowupUpdated carries 1 and up
ProposalEvent = (
    ProposalCreated | ProposalRevised | ProposalAccepted | ProposalRejected | ProposalWithdrawn
)


def _segment(fields: dict[str, Any]) -> dict[str, Any]:
    chosen = {f"segment.{name}": fields[name] for name in SEGMENT if name in fields}
    if "monthly_freight_volume_tons" in fields:
        chosen["segment.band"] = freight_band(fields["monthly_freight_volume_tons"])
    return chosen


async def customer_created(event: CustomerCreated, uow: UnitOfWork) -> None:
    fields = event.payload.model_dump(mode="json")
    await update_profile(
        uow,
        event.customer_id,
        {"$set": {**_segment(fields), "created_at": event.occurred_at}},
    )


async def customer_updated(event: CustomerUpdated, uow: UnitOfWork) -> None:
    fields = event.payload.fields.model_dump(mode="json", include=set(event.payload.changed))
    if segment := _segment(fields):
        await update_profile(uow, event.customer_id, {"$set": segment})


async def customer_assigned(event: CustomerAssigned, uow: UnitOfWork) -> None:
    entry = {
        "owner_id": event.payload.owner_id,
        "at": event.occurred_at,
        "trigger": event.payload.trigger,
        "why": event.payload.why,
    }
    # Sorted by time, so a replay in another order ends with the same history.
    await update_profile(
        uow,
        event.customer_id,
        {"$push": {"owner_history": {"$each": [entry], "$sort": {"at": 1}}}},
    )


async def customer_scored(event: CustomerScored, uow: UnitOfWork) -> None:
    point = {
        "score": event.payload.score,
        "tier": event.payload.tier.value,
        "win_probability": event.payload.win_probability,
        "at": event.occurred_at,
    }
    # The last 100 scores; the topic itself keeps them all.
    await update_profile(
        uow,
        event.customer_id,
        {"$push": {"score_history": {"$each": [point], "$sort": {"at": 1}, "$slice": -100}}},
    )
    tier = {
        "segment.tier": event.payload.tier.value,
        "tier_at": event.occurred_at,
        "win_probability": event.payload.win_probability,
    }
    await update_unless_later(
        uow,
        PROFILES,
        event.customer_id,
        "tier_at",
        event.occurred_at,
        {"$set": tier},
        ties_kept=False,
    )


async def contact_changed(event: ContactAdded | ContactUpdated, uow: UnitOfWork) -> None:
    contact = event.payload.contact.model_dump(mode="json")
    await update_profile(
        uow,
        event.customer_id,
        {"$set": {f"contacts.{contact.pop('contact_id')}": contact}},
    )


async def contact_removed(event: ContactRemoved, uow: UnitOfWork) -> None:
    await update_profile(
        uow, event.customer_id, {"$unset": {f"contacts.{event.payload.contact_id}": ""}}
    )


def _followup(followup: VisitLoggedPayload) -> dict[str, Any]:
    return {
        "salesperson_id": followup.salesperson_id,
        "channel": followup.channel.value,
        "at": followup.started_at,
        "details": followup.model_dump(mode="json"),
    }


async def _followup_as_of(
    uow: UnitOfWork, customer_id: str, followup: VisitLoggedPayload, version: int
) -> None:
    """The follow-up as of `version`, unless a later version is there already: logged (0) and
    updated in any order, applied any number of times, it ends as its latest version."""
    await followup_as_of(uow, customer_id, followup.followup_id, _followup(followup), version)


async def visit_logged(event: VisitLogged, uow: UnitOfWork) -> None:
    await _followup_as_of(uow, event.customer_id, event.payload, LOGGED)


async def followup_updated(event: FollowupUpdated, uow: UnitOfWork) -> None:
    await _followup_as_of(uow, event.customer_id, event.payload.followup, event.payload.version)


async def followup_revoked(event: FollowupRevoked, uow: UnitOfWork) -> None:
    await upsert_fact(
        uow, FOLLOWUPS, event.payload.followup_id, event.customer_id, {"$set": {"revoked": True}}
    )


def _lines(lines: list[ServiceLine]) -> list[dict[str, Any]]:
    """Service lines as the counters read them (money as floats, as every amount here)."""
    return [
        {
            **line.model_dump(mode="json"),
            "rate": float(line.rate) if line.rate is not None else None,
        }
        for line in lines
    ]


async def deal_closed(event: DealClosed, uow: UnitOfWork) -> None:
    payload = event.payload
    freight = payload.monthly_freight_volume_tons
    if freight is None and payload.lines:  # what its lines carry, when it gives no total
        freight = sum(line.monthly_tons or 0 for line in payload.lines)
    await upsert_fact(
        uow,
        DEALS,
        payload.deal_id,
        event.customer_id,
        {
            "$set": {
                "salesperson_id": payload.salesperson_id,
                "outcome": payload.outcome,
                "amount": float(payload.amount) if payload.amount is not None else None,
                "currency": payload.currency,
                "freight_tons": freight,
                "product_lines": payload.product_lines,
                "lines": _lines(payload.lines),
                "lost_reason": payload.lost_reason,
                "competitor": payload.competitor,
                "opportunity_id": payload.opportunity_id,
                "closed_at": event.occurred_at,
            }
        },
    )


def stage_of(event: OpportunityOpened | StageChanged) -> str:
    return event.payload.stage if isinstance(event, OpportunityOpened) else event.payload.to_stage


def _terms(terms: OpportunityTerms) -> dict[str, Any]:
    """The terms as the counters read them (money as floats, dates as ISO text)."""
    amount = float(terms.amount) if terms.amount is not None else None
    fields = OpportunityTerms.model_fields
    plain = terms.model_dump(mode="json", include=set(fields))  # not a payload's other fields
    return {**plain, "amount": amount, "lines": _lines(terms.lines)}


async def _latest(
    uow: UnitOfWork, opportunity_id: str, path: str, at: datetime, fields: dict[str, Any]
) -> None:
    """Sets `fields` of the opportunity unless its time at `path` is later: an opportunity's
    changes carry strictly rising times (the follow-up service sees to it), so the latest wins
    whatever order they come in."""
    await update_unless_later(
        uow,
        OPPORTUNITIES,
        opportunity_id,
        path,
        at,
        {"$set": {**fields, path: at}},
        ties_kept=False,
    )


async def pipeline_moved(event: OpportunityOpened | StageChanged, uow: UnitOfWork) -> None:
    payload = event.payload
    stage = stage_of(event)
    visit = {"stage": stage, "at": event.occurred_at}
    opened = {"opened_at": event.occurred_at} if isinstance(event, OpportunityOpened) else {}
    await upsert_fact(
        uow,
        OPPORTUNITIES,
        payload.opportunity_id,
        event.customer_id,
        {
            "$set": opened,
            "$push": {"history": {"$each": [visit], "$sort": {"at": 1}}},
        },
    )
    # The current stage is the latest by time, whatever order the events came in.
    current = {"stage": stage, "closed": stage in ("won", "lost")}
    await _latest(uow, payload.opportunity_id, "stage_at", event.occurred_at, current)
    probability = {"win_probability": payload.win_probability}
    await _latest(uow, payload.opportunity_id, "probability_at", event.occurred_at, probability)
    if isinstance(payload, OpportunityOpenedPayload):
        terms = _terms(payload)
        await _latest(uow, payload.opportunity_id, "terms_at", event.occurred_at, terms)


async def opportunity_updated(event: OpportunityUpdated, uow: UnitOfWork) -> None:
    payload = event.payload
    at = event.occurred_at
    await upsert_fact(uow, OPPORTUNITIES, payload.opportunity_id, event.customer_id, {})
    probability = {"win_probability": payload.win_probability}
    await _latest(uow, payload.opportunity_id, "probability_at", at, probability)
    await _latest(uow, payload.opportunity_id, "terms_at", at, _terms(payload.terms))


async def proposal_changed(event: ProposalEvent, uow: UnitOfWork) -> None:
    payload = event.payload
    status = PROPOSAL_STATUS[event.event_type]
    fields: dict[str, Any] = {}
    if isinstance(payload, ProposalPayload):
        fields.update(
            {
                "price": float(payload.price) if payload.price is not None else None,
                "currency": payload.currency,
                "opportunity_id": payload.opportunity_id,
            }
        )
    await upsert_fact(
        uow,
        PROPOSALS,
        payload.proposal_id,
        event.customer_id,
        {"$set": fields, "$min": {"created_at": event.occurred_at}},
    )
    # A decision is final: a late revision does not reopen it.
    final = {"status": {"$in": [None, "open"]}} if status == "open" else {}
    await update_fact_if(uow, PROPOSALS, payload.proposal_id, final, {"$set": {"status": status}})
