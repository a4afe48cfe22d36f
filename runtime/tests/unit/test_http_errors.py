"""How the HTTP side answers when the database is away (a 503 to retry, never a 500; a defect
stays a 500), and a query parameter given more than once."""

from typing import Annotated, Any

import httpx
from crm_runtime.http import install, single_valued_query
from crm_runtime.settings import ServiceSettings
from fastapi import Depends, FastAPI, Query
from prometheus_client import CollectorRegistry, Histogram
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    latency = Histogram("t", "t", ["method", "route", "status"], registry=CollectorRegistry())
    install(app, store=None, settings=ServiceSettings(service_name="test"), latency=latency)  # type: ignore[arg-type]

    @app.post("/work")
    async def work() -> None:
        raise error

    return app


async def answer_to(error: Exception) -> httpx.Response:
    transport = httpx.ASGITransport(app=app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.post("/work")


async def test_a_database_away_is_a_503_with_when_to_try_again():
    for error in (ServerSelectionTimeoutError("no primary"), AutoReconnect("connection reset")):
        answer = await answer_to(error)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        assert "Idempotency-Key" in answer.json()["detail"]["reason"]


async def test_a_transaction_that_lost_a_conflict_is_a_503():
    conflict = OperationFailure("WriteConflict", code=112)
    conflict._add_error_label("TransientTransactionError")
    assert (await answer_to(conflict)).status_code == 503


async def test_any_other_database_error_stays_a_500():
    answer = await answer_to(OperationFailure("bad query", code=2))
    assert answer.status_code == 500


def app_with_query() -> FastAPI:
    app = FastAPI(dependencies=[Depends(single_valued_query)])
    latency = Histogram("q", "q", ["method", "route", "status"], registry=CollectorRegistry())
    install(app, store=None, settings=ServiceSettings(service_name="test"), latency=latency)  # type: ignore[arg-type]

    @app.get("/rows")
    async def rows(
        region: str | None = None, by: Annotated[list[str] | None, Query()] = None
    ) -> dict[str, Any]:
        return {"region": region, "by": by}

    return app


async def test_a_one_valued_query_parameter_given_twice_is_a_422_naming_it():
    transport = httpx.ASGITransport(app=app_with_query())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        twice = await client.get("/rows", params=[("region", "east"), ("region", "west")])
        listed = await client.get("/rows", params=[("by", "tier"), ("by", "region")])
        unknown = await client.get("/rows", params=[("other", "1"), ("other", "2")])
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["query", "region"]
    assert listed.json() == {"region": None, "by": ["tier", "region"]}
    assert unknown.status_code == 200
