"""HTTP doors of the follow-up service."""

from typing import Any

from fastapi import APIRouter, status

from crm_followup import domain, handlers
from crm_runtime.auth import Principal, Role, Staff, forbidden_unless
from crm_runtime.http import CorrelationId, StoreDep, public

router = APIRouter()
ERRORS = {401: {"description": "No valid token"}, 403: {"description": "Not the caller's to record"},
          422: {"description": "Invalid input; `detail` lists each field and why"}}


def _own_work(caller: Principal, salesperson_id: str | None) -> None:
    """A salesperson records only their own follow-ups and deals; managers record anyone's."""
    if caller.role is Role.SALESPERSON:
        forbidden_unless(salesperson_id == caller.salesperson_id, f"work of salesperson {salesperson_id}")


@router.post("/visits", status_code=status.HTTP_201_CREATED, tags=["follow-ups"], responses=ERRORS)
async def log_visit(command: domain.LogVisit, store: StoreDep, caller: Staff,
                    correlation_id: CorrelationId) -> dict[str, Any]:
    _own_work(caller, command.salesperson_id)
    return public(await handlers.log_visit(command, store, correlation_id))


@router.post("/deals", status_code=status.HTTP_201_CREATED, tags=["deals"], responses=ERRORS)
async def close_deal(command: domain.CloseDeal, store: StoreDep, caller: Staff,
                     correlation_id: CorrelationId) -> dict[str, Any]:
    _own_work(caller, command.salesperson_id)
    return public(await handlers.close_deal(command, store, correlation_id))
