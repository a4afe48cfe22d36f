"""Quotas: set by managers and admins, read by them, ops and (their own) salespeople."""

from datetime import datetime
from typing import Annotated, Any

from crm_contracts.common import Money
from crm_runtime.http import IfMatch, ManagerContext, ReaderContext, errors, version_from
from crm_runtime.pagination import Cursor, Limit
from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from crm_customer.adapters import quotas as quota_store
from crm_customer.domain.quotas import Period, QuotaTarget, SetQuota, Target, list_filters
from crm_customer.handlers import quotas

router = APIRouter(tags=["quotas"])
PERIOD = "A year (2027), quarter (2027-Q1) or month (2027-03), in UTC."
InPath = Annotated[Period, Path(description=PERIOD)]
InQuery = Annotated[Period | None, Query(description=PERIOD)]


class QuotaVersion(BaseModel):
    version: int
    revenue: Money | None
    currency: str | None
    freight_tons: float | None
    reason: str | None
    set_by: str | None
    set_at: datetime


class QuotaView(QuotaVersion):
    target: Target
    target_id: str
    period: str


class QuotaWithHistory(QuotaView):
    history: list[QuotaVersion]


class QuotaPage(BaseModel):
    items: list[QuotaView]
    next_cursor: str | None


def _tagged(quota: dict[str, Any], response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{quota["version"]}"'
    return quota


@router.put(
    "/quotas/{target}/{target_id}/{period}",
    response_model=QuotaWithHistory,
    responses={
        status.HTTP_201_CREATED: {"model": QuotaWithHistory, "description": "Set the first time"},
        **errors(404, 409, 422, 428),
    },
)
async def set_quota(
    target: Target,
    target_id: str,
    period: InPath,
    body: QuotaTarget,
    context: ManagerContext,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Sets the whole target of a salesperson (registered) or a team for a year (2027), quarter
    (2027-Q1) or month (2027-03): 201 the first time, without a version; after that the version
    read goes in If-Match or `version` (428 without, 409 with the current version when stale),
    and each change is a new version, every one kept in `history`."""
    read = version_from(if_match)
    command = SetQuota(
        target=target,
        target_id=target_id,
        period=period,
        **body.model_dump(exclude={"version"}),
        version=read if read is not None else body.version,
    )
    quota = await quotas.set_quota(command, context)
    if quota["version"] == 1:
        response.status_code = status.HTTP_201_CREATED
    return _tagged(quota, response)


@router.get(
    "/quotas/{target}/{target_id}/{period}",
    response_model=QuotaWithHistory,
    responses=errors(404, 422),
)
async def get_quota(
    target: Target, target_id: str, period: InPath, context: ReaderContext, response: Response
) -> dict[str, Any]:
    """The quota with every version; the ETag header is its version, for If-Match. A
    salesperson reads only their own."""
    quota = await quotas.quota_to_read(context.store, context.caller, target, target_id, period)
    return _tagged(quota, response)


@router.get("/quotas", response_model=QuotaPage, responses=errors(422))
async def list_quotas(
    context: ReaderContext,
    period: InQuery = None,
    target: Target | None = None,
    target_id: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Current quotas, by period then target; a salesperson lists their own (403 for others')."""
    allowed_target, allowed_id = list_filters(context.caller, target, target_id)
    items, after = await quota_store.page(
        context.store,
        target=allowed_target,
        target_id=allowed_id,
        period=period,
        limit=limit,
        cursor=cursor,
    )
    return {"items": items, "next_cursor": after}
