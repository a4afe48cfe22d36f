"""Report endpoints."""

from typing import Any

from fastapi import APIRouter, HTTPException, status

from crm_reporting import adapters
from crm_runtime.http import StoreDep
from crm_runtime.pagination import Cursor, Limit

router = APIRouter(tags=["reports"])
COUNTS = ("followups", "deals_won", "deals_lost")


@router.get("/customers/{customer_id}", responses={404: {"description": "No event about this customer yet"}})
async def customer_report(customer_id: str, store: StoreDep, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """The customer's profile, latest score, counts, and its follow-ups and deals, latest first."""
    profile = await adapters.find_profile(store, customer_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event about customer {customer_id} yet")
    timeline, next_cursor = await adapters.timeline_page(store, customer_id, limit, cursor)
    counts = profile.get("counts", {})
    return {
        "customer_id": customer_id,
        "profile": profile.get("profile"),
        "latest_score": profile.get("latest_score"),
        "counts": {name: counts.get(name, 0) for name in COUNTS},
        "timeline": [{"event_id": entry.pop("_id"), **entry} for entry in timeline],
        "next_cursor": next_cursor,
    }
