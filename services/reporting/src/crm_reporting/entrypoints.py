"""Report endpoints."""

from typing import Any

from crm_runtime.auth import Readers, Role, forbidden_unless
from crm_runtime.http import StoreDep
from crm_runtime.pagination import Cursor, Limit
from fastapi import APIRouter, HTTPException, status

from crm_reporting import adapters

router = APIRouter(tags=["reports"])
COUNTS = ("followups", "deals_won", "deals_lost")


@router.get(
    "/customers/{customer_id}",
    responses={
        401: {"description": "No valid token"},
        403: {"description": "Another salesperson's customer"},
        404: {"description": "No event about this customer yet"},
    },
)
async def customer_report(
    customer_id: str, store: StoreDep, caller: Readers, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """The customer's profile, owner, latest score, counts, and its follow-ups and deals, latest
    first. Managers and ops read every customer; a salesperson only their own."""
    profile = await adapters.find_profile(store, customer_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event about customer {customer_id} yet")
    forbidden_unless(
        caller.role is Role.OPS or caller.may_see(profile.get("owner_id")),
        f"customer {customer_id}",
    )
    timeline, next_cursor = await adapters.timeline_page(store, customer_id, limit, cursor)
    counts = profile.get("counts", {})
    return {
        "customer_id": customer_id,
        "profile": profile.get("profile"),
        "status": profile.get("status", "active"),
        "owner_id": profile.get("owner_id"),
        "pipeline": profile.get("pipeline"),
        "segment": profile.get("segment"),
        "contacts": [
            {"contact_id": key, **value} for key, value in (profile.get("contacts") or {}).items()
        ],
        "owner_history": profile.get("owner_history", []),
        "score_history": profile.get("score_history", []),
        "latest_score": profile.get("latest_score"),
        "counts": {name: counts.get(name, 0) for name in COUNTS},
        "timeline": [{"event_id": entry.pop("_id"), **entry} for entry in timeline],
        "next_cursor": next_cursor,
    }
