"""The customer 360."""

from typing import Any

from crm_runtime.http import ReaderContext, errors
from crm_runtime.pagination import Cursor, Limit
from fastapi import APIRouter

from crm_reporting import adapters

router = APIRouter(tags=["reports"])
COUNTS = ("followups", "deals_won", "deals_lost")


def _by_id(profiles: list[dict[str, Any]], field: str, key: str) -> list[dict[str, Any]]:
    """The entries of `field` over the profiles, one per id (the customer's own first)."""
    merged: dict[str, Any] = {}
    for profile in reversed(profiles):
        merged.update(profile.get(field) or {})
    return [{key: name, **value} for name, value in merged.items()]


@router.get("/customers/{customer_id}", responses=errors(404, 422))
async def customer_report(
    customer_id: str, context: ReaderContext, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """The customer's profile, owner, latest score and financial ratios, competitors, counts, its
    open opportunities with their terms and lines (the stage last moved is `pipeline`), the lanes
    its won deals contracted, and its
    follow-ups and deals, latest first, with those of the customers merged into it. Managers
    and ops read every customer; a salesperson only their own."""
    assert context.caller is not None  # ReaderContext checked the token
    profile = await adapters.profile_to_read(context.store, customer_id, context.caller)
    profiles = [profile, *await adapters.merged_profiles(context.store, customer_id)]
    ids = [p["_id"] for p in profiles]
    timeline, next_cursor = await adapters.timeline_page(context.store, ids, limit, cursor)
    financials = profile.get("financials") or {}
    return {
        "customer_id": customer_id,
        "profile": profile.get("profile"),
        "status": profile.get("status", "active"),
        "merged_into": profile.get("merged_into"),
        "merged": [p["_id"] for p in profiles[1:]],
        "owner_id": profile.get("owner_id"),
        "pipeline": profile.get("pipeline"),
        "contracted_lanes": await adapters.contracted_lanes(context.store, ids),
        "open_opportunities": [
            {"opportunity_id": o.pop("_id"), **o}
            for o in await adapters.open_opportunities(context.store, ids)
        ],
        "segment": profile.get("segment"),
        "contacts": _by_id(profiles, "contacts", "contact_id"),
        "competitors": _by_id(profiles, "competitors", "competitor_id"),
        "financial_ratios": financials.get("ratios"),
        "owner_history": profile.get("owner_history", []),
        "score_history": profile.get("score_history", []),
        "latest_score": profile.get("latest_score"),
        "counts": {
            name: sum((p.get("counts") or {}).get(name, 0) for p in profiles) for name in COUNTS
        },
        "timeline": [{"event_id": entry.pop("_id"), **entry} for entry in timeline],
        "next_cursor": next_cursor,
    }
