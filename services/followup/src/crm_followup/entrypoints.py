"""HTTP doors of the follow-up service: follow-ups, pipeline, proposals, deals."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from crm_contracts.common import Channel, Text
from crm_runtime.auth import Principal, Role, Staff
from crm_runtime.http import CorrelationId, IfMatch, StoreDep, errors, public, version_from
from crm_runtime.pagination import Cursor, Limit, after, next_cursor, sort_by
from crm_runtime.store import Store
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict

from crm_followup import adapters
from crm_followup.domain.deals import LOST_REASONS, CloseDeal
from crm_followup.domain.followups import ChangeFollowup, LogFollowup
from crm_followup.domain.pipeline import Pipeline
from crm_followup.handlers import NotFound, NotYours, followups, pipeline, proposals

router = APIRouter()


class Why(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class MaybeWhy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


class StageMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_stage: Text
    reason: Text | None = None


def _pipeline(request: Request) -> Pipeline:
    return request.app.state.settings.pipeline


async def readable(store: Store, caller: Principal, customer_id: str) -> None:
    """Reads follow the same ownership as writes: managers all, a salesperson their own
    customers."""
    customer = await adapters.find(store, adapters.CUSTOMERS, {"_id": customer_id})
    if not caller.may_see(customer and customer.get("owner_id")):
        raise NotYours(f"customer {customer_id} is not yours")


async def _found(store: Store, collection: str, item_id: str, caller: Principal) -> dict[str, Any]:
    item = await adapters.find(store, collection, {"_id": item_id})
    if item is None:
        raise NotFound(f"nothing with id {item_id}")
    await readable(store, caller, item["customer_id"])
    return item


# --- follow-ups -----------------------------------------------------------------------------------


@router.post(
    "/followups",
    status_code=status.HTTP_201_CREATED,
    tags=["follow-ups"],
    responses=errors(409, 422),
)
async def log_followup(
    command: LogFollowup, store: StoreDep, caller: Staff, correlation_id: CorrelationId
) -> dict:
    """A visit, call, meeting, e-mail or other activity. 422 for a customer not known here, 409 for
    an archived one, 403 for another salesperson's."""
    return public(await followups.log_followup(store, command, caller, correlation_id))


@router.get("/followups", tags=["follow-ups"], responses=errors(400, 422))
async def search_followups(
    store: StoreDep,
    caller: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    customer_id: str | None = None,
    salesperson_id: str | None = None,
    channel: Channel | None = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Started before.")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Text in subject, outcome or next step.")
    ] = None,
    include_revoked: bool = False,
) -> dict[str, Any]:
    """Newest first. A salesperson finds only their own follow-ups."""
    if caller.role is Role.SALESPERSON:
        salesperson_id = caller.salesperson_id or "-"
    order = sort_by("started_at", descending=True)
    query: dict[str, Any] = {} if include_revoked else {"status": "active"}
    for name, value in (
        ("customer_id", customer_id),
        ("salesperson_id", salesperson_id),
        ("channel", channel),
    ):
        if value is not None:
            query[name] = value
    if since or until:
        query["started_at"] = {
            **({"$gte": since} if since else {}),
            **({"$lt": until} if until else {}),
        }
    if q:
        pattern = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"subject": pattern}, {"outcome": pattern}, {"next_step": pattern}]
    found = await adapters.page(
        store, adapters.FOLLOWUPS, {**query, **after(cursor, order)}, order, limit + 1
    )
    return {
        "items": [public(item) for item in found[:limit]],
        "next_cursor": next_cursor(found, limit, order),
    }


@router.get("/followups/{followup_id}", tags=["follow-ups"], responses=errors(404))
async def get_followup(
    followup_id: str, store: StoreDep, caller: Staff, response: Response
) -> dict[str, Any]:
    item = await _found(store, adapters.FOLLOWUPS, followup_id, caller)
    response.headers["ETag"] = f'"{item["version"]}"'
    return public(item)


@router.patch("/followups/{followup_id}", tags=["follow-ups"], responses=errors(404, 409, 422, 428))
async def change_followup(
    followup_id: str,
    command: ChangeFollowup,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    return public(
        await followups.change_followup(
            store, followup_id, command, version_from(if_match), caller, correlation_id
        )
    )


@router.post(
    "/followups/{followup_id}/revoke", tags=["follow-ups"], responses=errors(404, 409, 422)
)
async def revoke_followup(
    followup_id: str, command: Why, store: StoreDep, caller: Staff, correlation_id: CorrelationId
) -> dict[str, Any]:
    """Revoked, never deleted: it leaves searches unless include_revoked."""
    return public(
        await followups.revoke_followup(store, followup_id, command.reason, caller, correlation_id)
    )


# --- pipeline -------------------------------------------------------------------------------------


@router.get("/pipeline", tags=["pipeline"], responses=errors())
async def stages(request: Request, caller: Staff) -> dict[str, Any]:
    """The configured stages with their default win probabilities; won and lost follow, final."""
    return {**_pipeline(request).model_dump(), "final": ["won", "lost"]}


@router.post(
    "/customers/{customer_id}/opportunities",
    status_code=status.HTTP_201_CREATED,
    tags=["pipeline"],
    responses=errors(409, 422),
)
async def open_opportunity(
    customer_id: str,
    store: StoreDep,
    caller: Staff,
    request: Request,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Opens the customer's opportunity in the first stage; 409 while another is open."""
    return public(
        await pipeline.open_opportunity(
            store, _pipeline(request), customer_id, caller, correlation_id
        )
    )


@router.get("/customers/{customer_id}/opportunities", tags=["pipeline"], responses=errors())
async def opportunities_of(
    customer_id: str, store: StoreDep, caller: Staff
) -> list[dict[str, Any]]:
    await readable(store, caller, customer_id)
    found = await adapters.page(
        store, adapters.OPPORTUNITIES, {"customer_id": customer_id}, [("opened_at", -1)], 100
    )
    return [public(pipeline.with_time_in_stages(item)) for item in found]


@router.get("/opportunities/{opportunity_id}", tags=["pipeline"], responses=errors(404))
async def get_opportunity(opportunity_id: str, store: StoreDep, caller: Staff) -> dict[str, Any]:
    """With its stage history and the seconds spent in each stage."""
    return public(
        pipeline.with_time_in_stages(
            await _found(store, adapters.OPPORTUNITIES, opportunity_id, caller)
        )
    )


@router.post(
    "/opportunities/{opportunity_id}/stage", tags=["pipeline"], responses=errors(404, 409, 422)
)
async def move_stage(
    opportunity_id: str,
    command: StageMove,
    store: StoreDep,
    caller: Staff,
    request: Request,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """A move the pipeline does not allow is a 409 with the reason."""
    return public(
        await pipeline.move_stage(
            store,
            _pipeline(request),
            opportunity_id,
            command.to_stage,
            command.reason,
            caller,
            correlation_id,
        )
    )


@router.post(
    "/opportunities/{opportunity_id}/reopen",
    status_code=status.HTTP_201_CREATED,
    tags=["pipeline"],
    responses=errors(404, 409, 422),
)
async def reopen(
    opportunity_id: str,
    store: StoreDep,
    caller: Staff,
    request: Request,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """A lost opportunity comes back as a new one, in the first stage."""
    lost = await _found(store, adapters.OPPORTUNITIES, opportunity_id, caller)
    return public(
        await pipeline.open_opportunity(
            store,
            _pipeline(request),
            lost["customer_id"],
            caller,
            correlation_id,
            reopened_from=opportunity_id,
        )
    )


# --- proposals ------------------------------------------------------------------------------------


@router.post(
    "/proposals",
    status_code=status.HTTP_201_CREATED,
    tags=["proposals"],
    responses=errors(404, 409, 422),
)
async def write_proposal(
    command: proposals.WriteProposal, store: StoreDep, caller: Staff, correlation_id: CorrelationId
) -> dict[str, Any]:
    return public(await proposals.write(store, command, caller, correlation_id))


@router.get("/proposals/{proposal_id}", tags=["proposals"], responses=errors(404))
async def get_proposal(proposal_id: str, store: StoreDep, caller: Staff) -> dict[str, Any]:
    """With every revision, numbered."""
    return public(await _found(store, adapters.PROPOSALS, proposal_id, caller))


@router.get("/customers/{customer_id}/proposals", tags=["proposals"], responses=errors())
async def proposals_of(customer_id: str, store: StoreDep, caller: Staff) -> list[dict[str, Any]]:
    await readable(store, caller, customer_id)
    found = await adapters.page(
        store, adapters.PROPOSALS, {"customer_id": customer_id}, [("created_at", -1)], 100
    )
    return [public(item) for item in found]


@router.post(
    "/proposals/{proposal_id}/revisions", tags=["proposals"], responses=errors(404, 409, 422)
)
async def revise_proposal(
    proposal_id: str,
    command: proposals.ReviseProposal,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    return public(await proposals.revise(store, proposal_id, command, caller, correlation_id))


@router.post(
    "/proposals/{proposal_id}/{decision}", tags=["proposals"], responses=errors(404, 409, 422)
)
async def decide_proposal(
    proposal_id: str,
    decision: Literal["withdraw", "accept", "reject"],
    command: MaybeWhy,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Withdrawn, accepted or rejected: final."""
    return public(
        await proposals.decide(store, proposal_id, decision, command.reason, caller, correlation_id)
    )


# --- deals ----------------------------------------------------------------------------------------


@router.post(
    "/deals",
    status_code=status.HTTP_201_CREATED,
    tags=["deals"],
    responses=errors(409, 422),
    description="Won (amount, currency, product lines, freight volume, contract period) or lost (a "
    f"reason from the catalogue: {', '.join(LOST_REASONS)}; the competitor, if known). Closes the "
    "customer's open opportunity; 409 when its stage does not allow winning.",
)
async def close_deal(
    command: CloseDeal,
    store: StoreDep,
    caller: Staff,
    request: Request,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    return public(
        await pipeline.close_deal(store, _pipeline(request), command, caller, correlation_id)
    )


@router.get("/customers/{customer_id}/deals", tags=["deals"], responses=errors())
async def deals_of(customer_id: str, store: StoreDep, caller: Staff) -> list[dict[str, Any]]:
    await readable(store, caller, customer_id)
    found = await adapters.page(
        store, adapters.DEALS, {"customer_id": customer_id}, [("closed_at", -1)], 100
    )
    return [public(item) for item in found]
