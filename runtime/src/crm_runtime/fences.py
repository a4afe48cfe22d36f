"""Each partition's document of a database's consumers: how far they have come (for reports
saying how fresh they are, without asking Kafka), and pausing them, for maintenance that must
not interleave with their batches (such as swapping rebuilt read models in, collection by
collection).

Each partition batch's transaction checks the pause and writes its partition's fence document
first. Pausing writes every fence document in the transaction that sets the pause, so a batch
either committed before the pause did, or conflicts with it and is tried again, then waits: once
`pause` returns, no batch commits until `resume` (or the pause's time has passed, by the database
server's clock, so that a maintenance that died cannot stop the consumers for good)."""

from collections.abc import Iterable
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from crm_runtime.retry import WaitAndRetry

FENCES = "consumer_fences"
PAUSE = "pause"


class Paused(WaitAndRetry):
    """This database's consumers are paused: the batch waits and is tried again."""


def fence_of(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


async def enter(db: AsyncDatabase[Any], session: AsyncClientSession, fence: str) -> None:
    """At the start of a batch's transaction: raises Paused while paused; else marks the fence,
    so that a pause committed from now on conflicts with this transaction."""
    paused = {"_id": PAUSE, "$expr": {"$gt": ["$until", "$$NOW"]}}
    if await db[FENCES].find_one(paused, {"_id": 1}, session=session) is not None:
        raise Paused("the consumers are paused for maintenance")
    await db[FENCES].update_one(
        {"_id": fence}, {"$inc": {"batches": 1}}, upsert=True, session=session
    )


async def pause(
    db: AsyncDatabase[Any], session: AsyncClientSession, fences: Iterable[str], seconds: float
) -> None:
    """In the caller's transaction: pauses the consumers of every fence in `fences` for at most
    `seconds`."""
    until = {"$add": ["$$NOW", int(seconds * 1000)]}
    await db[FENCES].update_one(
        {"_id": PAUSE}, [{"$set": {"until": until}}], upsert=True, session=session
    )
    marks = [UpdateOne({"_id": fence}, {"$inc": {"pauses": 1}}, upsert=True) for fence in fences]
    if marks:
        await db[FENCES].bulk_write(marks, session=session)


async def resume(db: AsyncDatabase[Any]) -> None:
    await db[FENCES].delete_one({"_id": PAUSE})


async def note_position(db: AsyncDatabase[Any], fence: str, applied_to: int, end: int) -> None:
    """After a partition batch: records before offset `applied_to` are done, and the partition
    ended at `end` when they were fetched. Outside the batch's transaction, as some batches have
    none (every record ignored or dead-lettered): a crash before it leaves the lag a batch
    behind."""
    await db[FENCES].update_one(
        {"_id": fence},
        [
            {
                "$set": {
                    "applied_to": {"$max": ["$applied_to", applied_to]},
                    "end": end,
                    "at": "$$NOW",
                }
            }
        ],
        upsert=True,
    )


async def lag(db: AsyncDatabase[Any]) -> dict[str, Any]:
    """Records fetched but not yet applied, in total, as of the latest batch (`at`); None before
    any batch."""
    noted = await db[FENCES].find({"applied_to": {"$exists": True}}).to_list()
    if not noted:
        return {"total": None, "at": None}
    return {
        "total": sum(max(0, doc["end"] - doc["applied_to"]) for doc in noted),
        "at": max(doc["at"] for doc in noted),
    }
