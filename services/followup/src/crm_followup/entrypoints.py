"""HTTP doors of the follow-up service."""

from typing import Any

from fastapi import APIRouter, status

from crm_followup import domain, handlers
from crm_runtime.http import CorrelationId, StoreDep, public

router = APIRouter()


@router.post("/visits", status_code=status.HTTP_201_CREATED, tags=["follow-ups"])
async def log_visit(command: domain.LogVisit, store: StoreDep, correlation_id: CorrelationId) -> dict[str, Any]:
    return public(await handlers.log_visit(command, store, correlation_id))


@router.post("/deals", status_code=status.HTTP_201_CREATED, tags=["deals"])
async def close_deal(command: domain.CloseDeal, store: StoreDep, correlation_id: CorrelationId) -> dict[str, Any]:
    return public(await handlers.close_deal(command, store, correlation_id))
