"""Pausing the consumers of a database, on a real mongod: a batch in flight when the pause is asked
commits first (the pause waits for it); once the pause holds, no batch commits until it is lifted,
or until its time has passed."""

import asyncio

import pytest
from crm_contracts import CustomerCreated
from crm_runtime import fences
from crm_runtime.fences import Paused
from crm_runtime.store import Store
from pymongo import InsertOne

FENCE = fences.fence_of("crm.customer.events", 0)


def created(name: str) -> CustomerCreated:
    return CustomerCreated(producer="test", customer_id="c-1", payload={"name": name})


def recording(name: str):
    async def apply(event, uow) -> None:
        uow.write("applied", InsertOne({"name": name}))

    return apply


async def pause(store, seconds: float = 60) -> None:
    await store.run(lambda uow: fences.pause(uow.db, uow.session, [FENCE], seconds))


async def applied(store) -> list[str]:
    return [doc["name"] for doc in await store.db["applied"].find({}).sort("_id").to_list()]


async def test_a_pause_waits_for_the_batch_in_flight_then_holds_every_batch_until_lifted(store):
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(event, uow) -> None:
        entered.set()
        await release.wait()  # the batch's transaction stays open, its fence written
        uow.write("applied", InsertOne({"name": "in flight"}))

    in_flight = asyncio.create_task(store.run_batch([created("a")], slow, fence=FENCE))
    await entered.wait()
    pausing = asyncio.create_task(pause(store))
    await asyncio.sleep(1.0)
    assert not pausing.done(), "the pause waits for the batch in flight"
    release.set()
    assert await in_flight == ["applied"]
    await pausing

    with pytest.raises(Paused):
        await store.run_batch([created("b")], recording("while paused"), fence=FENCE)
    assert await applied(store) == ["in flight"]

    await fences.resume(store.db)
    await store.run_batch([created("b")], recording("after"), fence=FENCE)
    assert await applied(store) == ["in flight", "after"]


async def test_a_pause_ends_by_itself_once_its_time_has_passed(store):
    await pause(store, seconds=1)
    with pytest.raises(Paused):
        await store.run_batch([created("a")], recording("paused"), fence=FENCE)
    await asyncio.sleep(1.5)
    assert await store.run_batch([created("a")], recording("later"), fence=FENCE) == ["applied"]
    assert await applied(store) == ["later"]


async def test_instances_starting_at_once_on_a_new_database_each_come_up(store):
    """Several instances of a service, started together (a deployment scaled out), each make the
    collections and indexes they need: those another made meanwhile are no error."""
    fresh = [Store(store.client, f"{store.db.name}_fresh") for _ in range(6)]

    await asyncio.gather(*(each.ensure_indexes() for each in fresh))

    assert fences.FENCES in await fresh[0].db.list_collection_names()
    await store.client.drop_database(fresh[0].db.name)
