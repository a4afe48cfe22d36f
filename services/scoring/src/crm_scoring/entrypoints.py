"""HTTP doors of the scoring service: the strategy catalogue (managers) and a customer's score."""

from typing import Any

from crm_runtime.auth import Managers, Readers, Role, forbidden_unless
from crm_runtime.http import StoreDep, errors
from fastapi import APIRouter, HTTPException, status

from crm_scoring import adapters
from crm_scoring.domain.strategy import StrategyDefinition

router = APIRouter()


def _strategy(document: dict[str, Any]) -> dict[str, Any]:
    return {"strategy_id": document.pop("_id"), **document}


@router.get("/strategies", tags=["strategies"], responses=errors())
async def list_strategies(store: StoreDep, caller: Managers) -> list[dict[str, Any]]:
    return [
        _strategy(doc) for doc in await store.db[adapters.STRATEGIES].find({}).sort("_id").to_list()
    ]


@router.put("/strategies/{strategy_id}", tags=["strategies"], responses=errors(422))
async def save_strategy(
    strategy_id: str, definition: StrategyDefinition, store: StoreDep, caller: Managers
) -> dict[str, Any]:
    """Creates or changes a strategy: each save is a new version, used from the next scoring on."""
    return _strategy(await adapters.save_strategy(store, strategy_id, definition, caller.user_id))


@router.get("/strategies/{strategy_id}/versions", tags=["strategies"], responses=errors(404))
async def strategy_versions(
    strategy_id: str, store: StoreDep, caller: Managers
) -> list[dict[str, Any]]:
    found = (
        await store.db[adapters.STRATEGY_VERSIONS]
        .find({"strategy_id": strategy_id}, {"_id": 0})
        .sort("version", -1)
        .to_list()
    )
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no strategy {strategy_id}")
    return found


@router.get("/customers/{customer_id}/features", tags=["scores"], responses=errors(404))
async def customer_features(customer_id: str, store: StoreDep, caller: Readers) -> dict[str, Any]:
    """What scoring knows of the customer and its last result (managers and ops)."""
    forbidden_unless(caller.role in (Role.ADMIN, Role.MANAGER, Role.OPS), "scoring internals")
    stored = await store.db[adapters.CUSTOMERS].find_one({"_id": customer_id})
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event about customer {customer_id} yet")
    return {"customer_id": customer_id, "features": stored["features"], "last": stored.get("last")}
