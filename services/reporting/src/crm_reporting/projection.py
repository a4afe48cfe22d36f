"""What the event handlers write to the read models, a partition batch at a time (batch.py).

Every write keeps its operators ($inc, $push with $sort and $slice, $min, "unless later"
conditions), which make each projection order-insensitive and idempotent; the batch only decides
from what it read what MongoDB would decide, and sends fewer, coalesced writes.

Facts keep the customer they happened to (`customer_id`) and the account they count under
(`account_id`): the customer itself, or the survivor it was merged into. A merge or an unmerge
moves the account of every fact in the same transaction, so the reports count a history once."""

from datetime import datetime
from typing import Any

from crm_runtime.store import UnitOfWork
from pymongo import InsertOne, UpdateMany

from crm_reporting.adapters import FACTS, FOLLOWUPS, PROFILES, TIMELINE
from crm_reporting.batch import FOLLOWUP_SEEN, batch_of, kept, profile_of, sent
from crm_reporting.coalesce import Write


async def update_profile(uow: UnitOfWork, customer_id: str, update: dict[str, Any]) -> None:
    """An upsert of the customer's profile."""
    batch = await batch_of(uow)
    (await profile_of(uow, batch, customer_id)).exists = True
    batch.to(PROFILES).update(customer_id, Write(update))
    batch.touched.add(customer_id)


async def describe(
    uow: UnitOfWork, customer_id: str, fields: dict[str, Any], *, whole: bool
) -> None:
    """The profile as its CustomerCreated gives it (`whole`) or a CustomerUpdated changes it. The
    changed fields of a profile not described yet (its creation has not come, or never will, as
    from another system) make a profile of their own: MongoDB cannot set a field inside null."""
    state = await profile_of(uow, await batch_of(uow), customer_id)
    if whole or not state.described:
        update = {"$set": {"profile": fields}}
    else:
        update = {"$set": {f"profile.{name}": value for name, value in fields.items()}}
    state.described = True
    await update_profile(uow, customer_id, update)


async def update_unless_later(
    uow: UnitOfWork,
    collection: str,
    key: str,
    path: str,
    at: datetime,
    update: dict[str, Any],
    *,
    ties_kept: bool,
) -> None:
    """`update` of a document written just before, unless the time at `path` is later than `at`
    (or the same, where `ties_kept`). Decided here where the batch read that time (batch.TIMES),
    else by MongoDB."""
    batch = await batch_of(uow)
    times = batch.times.get((collection, key))
    if times is None or path not in times:
        unless = {path: {"$not": {"$gte" if ties_kept else "$gt": at}}}
        batch.to(collection).update(key, Write(update, upsert=False, condition=unless))
    elif not kept(times[path], at, ties_kept=ties_kept):
        batch.to(collection).update(key, Write(update, upsert=False))
        times[path] = at


async def set_latest(uow: UnitOfWork, customer_id: str, field: str, value: dict[str, Any]) -> None:
    """Keeps the newest `value` (by its `occurred_at`): an older one arriving late changes
    nothing."""
    await update_profile(uow, customer_id, {"$setOnInsert": {"profile": None}})
    at = value["occurred_at"]
    update = {"$set": {field: value}}
    await update_unless_later(
        uow, PROFILES, customer_id, f"{field}.occurred_at", at, update, ties_kept=True
    )


async def upsert_fact(
    uow: UnitOfWork, collection: str, key: str, customer_id: str, update: dict[str, Any]
) -> None:
    """Writes a fact keyed by its own id; a new one under its customer's account as it is now
    (after that, only merges and unmerges move a fact, and they count both accounts again)."""
    account = {"account_id": await account_of(uow, customer_id)}
    update = {
        **update,
        "$set": {**update.get("$set", {}), "customer_id": customer_id},
        "$setOnInsert": {**update.get("$setOnInsert", {}), **account},
    }
    batch = await batch_of(uow)
    batch.facts.setdefault(collection, set()).add(key)
    # A follow-up the batch read as absent, and has not written yet, is new.
    new = collection == FOLLOWUPS and key in batch.followups and batch.followups[key] is None
    if new:
        batch.followups[key] = {}
    batch.to(collection).update(key, Write(update, new=new))


async def update_fact_if(
    uow: UnitOfWork, collection: str, key: str, condition: dict[str, Any], update: dict[str, Any]
) -> None:
    """An update of a fact where it meets `condition`."""
    batch = await batch_of(uow)
    batch.facts.setdefault(collection, set()).add(key)
    batch.to(collection).update(key, Write(update, upsert=False, condition=condition))


async def followup_as_of(
    uow: UnitOfWork, customer_id: str, followup_id: str, fields: dict[str, Any], version: int
) -> None:
    """The follow-up's fact as of `version`, unless it shows a later one already. Decided here
    where the batch read the fact, and part of the fact's upsert; else by MongoDB."""
    batch = await batch_of(uow)
    created = {"$setOnInsert": {"revoked": False}}
    update = {"$set": {**fields, "version": version}}
    if followup_id not in batch.followups:
        await upsert_fact(uow, FOLLOWUPS, followup_id, customer_id, created)
        condition = {"version": {"$not": {"$gt": version}}}
        await update_fact_if(uow, FOLLOWUPS, followup_id, condition, update)
        return
    fact = batch.followups[followup_id] or {}
    if fact.get("version") is not None and fact["version"] > version:
        await upsert_fact(uow, FOLLOWUPS, followup_id, customer_id, created)
        return
    await upsert_fact(uow, FOLLOWUPS, followup_id, customer_id, {**created, **update})
    batch.followups[followup_id] = {**fact, **fields, "version": version}


async def followup_fact(uow: UnitOfWork, followup_id: str) -> dict[str, Any] | None:
    """The follow-up's fact as the batch has left it so far."""
    batch = await batch_of(uow)
    if followup_id not in batch.followups:
        facts = await sent(uow, FOLLOWUPS)
        batch.followups[followup_id] = await facts.find_one(
            {"_id": followup_id}, FOLLOWUP_SEEN, session=uow.session
        )
    return batch.followups[followup_id]


async def account_of(uow: UnitOfWork, customer_id: str) -> str:
    """The customer a fact counts under: itself, or the end of the chain it was merged along
    (A into B, then B into C: C; unmerge B and it is B again)."""
    batch = await batch_of(uow)
    account, seen = customer_id, {customer_id}
    while True:
        profile = await profile_of(uow, batch, account)
        if profile.exists:
            # A write, not only a read: a merge or an unmerge of any customer on the chain,
            # committing meanwhile, then conflicts with this transaction, which is retried and
            # sees it, rather than filing the fact under an account the merge has just moved
            # away from. (Counted, then written once per batch: in this transaction all the same.)
            batch.filed[account] += 1
        merged_into = profile.merged_into
        if not merged_into or merged_into in seen:
            return account
        account = merged_into
        seen.add(account)


async def merge(uow: UnitOfWork, merged_id: str, survivor_id: str) -> None:
    """The merged customer's facts (and those of customers merged into it before) count under
    the survivor from now on."""
    await update_profile(
        uow, merged_id, {"$set": {"merged_into": survivor_id}, "$setOnInsert": {"profile": None}}
    )
    batch = await batch_of(uow)
    batch.profiles[merged_id].merged_into = survivor_id
    # The end of the survivor's chain: merges of other customers may come in another order than
    # they were made (A into B, then B into C, applied the other way round), and facts count
    # under a customer counted on its own.
    account = await account_of(uow, survivor_id)
    batch.wide.add(account)
    for collection in FACTS:
        batch.to(collection).add(
            UpdateMany({"account_id": merged_id}, {"$set": {"account_id": account}})
        )


async def unmerge(uow: UnitOfWork, restored_id: str) -> None:
    """The restored customer's facts (and those of customers merged into it) count under it
    again."""
    await update_profile(
        uow, restored_id, {"$set": {"merged_into": None}, "$setOnInsert": {"profile": None}}
    )
    batch = await batch_of(uow)
    batch.profiles[restored_id].merged_into = None
    batch.wide.add(restored_id)
    profiles = await sent(uow, PROFILES)  # an unmerge is rare: read what the batch wrote
    members = [
        restored_id,
        *await profiles.distinct("_id", {"merged_into": restored_id}, session=uow.session),
    ]
    moved = {"customer_id": {"$in": members}}
    for collection in FACTS:
        # The accounts the facts counted under until now lose them.
        facts = await sent(uow, collection)
        batch.touched |= set(await facts.distinct("account_id", moved, session=uow.session))
        batch.to(collection).add(UpdateMany(moved, {"$set": {"account_id": restored_id}}))


async def add_to_timeline(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    (await batch_of(uow)).to(TIMELINE).add(InsertOne(entry))


async def update_followup_entries(
    uow: UnitOfWork, customer_id: str, followup_id: str, fields: dict[str, Any], version: int
) -> None:
    """The follow-up's timeline entries as of `version`, unless they show a later one."""
    (await batch_of(uow)).to(TIMELINE).add(
        UpdateMany(
            {
                "customer_id": customer_id,
                "kind": "followup",
                "details.followup_id": followup_id,
                "version": {"$not": {"$gt": version}},
            },
            {"$set": {**fields, "version": version}},
        )
    )


async def revoke_followup_entries(
    uow: UnitOfWork, customer_id: str, followup_id: str, reason: str
) -> int:
    """Marks the follow-up's timeline entries revoked; how many were not revoked before (a read
    of what the batch wrote: its writes are sent first; revocations are rare)."""
    timeline = await sent(uow, TIMELINE)
    result = await timeline.update_many(
        {
            "customer_id": customer_id,
            "kind": "followup",
            "details.followup_id": followup_id,
            "revoked": {"$ne": True},
        },
        {"$set": {"revoked": True, "revoked_reason": reason}},
        session=uow.session,
    )
    return int(result.modified_count)
