"""HTTP doors of the scoring service: the strategy catalogue (managers) and what scoring knows of
a customer (managers and ops)."""

from typing import Any

from crm_runtime.errors import NotFound
from crm_runtime.http import ManagerContext, OversightContext, errors
from fastapi import APIRouter

from crm_scoring import adapters, handlers
from crm_scoring.domain.strategy import StrategyDefinition

router = APIRouter()


@router.get("/strategies", tags=["strategies"], responses=errors())
async def list_strategies(context: ManagerContext) -> list[dict[str, Any]]:
    return await adapters.all_strategies(context.store)


@router.put("/strategies/{strategy_id}", tags=["strategies"], responses=errors(422))
async def save_strategy(
    strategy_id: str, definition: StrategyDefinition, context: ManagerContext
) -> dict[str, Any]:
    """Creates or changes a strategy: each save is a new version, used from the next scoring on."""
    command = handlers.SaveStrategy(strategy_id=strategy_id, definition=definition)
    return await handlers.save_strategy(command, context)


@router.get("/strategies/{strategy_id}/versions", tags=["strategies"], responses=errors(404))
async def strategy_versions(strategy_id: str, context: ManagerContext) -> list[dict[str, Any]]:
    found = await adapters.strategy_versions(context.store, strategy_id)
    if not found:
        raise NotFound(f"no strategy {strategy_id}")
    return found


@router.get("/customers/{customer_id}/features", tags=["scores"], responses=errors(404))
async def customer_features(customer_id: str, context: OversightContext) -> dict[str, Any]:
    """What scoring knows of the customer and its last result (managers and ops)."""
    found = await adapters.customer_features(context.store, customer_id)
    if found is None:
        raise NotFound(f"no event about customer {customer_id} yet")
    return found
