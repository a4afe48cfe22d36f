"""Salespeople, the assignment history, merges, users and failed logins."""

from datetime import UTC, datetime
from typing import Any

from crm_runtime.pagination import sort_by
from crm_runtime.store import Store, UnitOfWork
from pymongo import ReturnDocument

from crm_customer.adapters import (
    ADMIN_CHANGES,
    ASSIGNMENTS,
    LOGIN_FAILURES,
    MERGES,
    SALESPEOPLE,
    USERS,
)
from crm_customer.adapters.customers import Page, paged
from crm_customer.domain.assignment import SalespersonProfile
from crm_customer.domain.users import Throttle


def profile(document: dict[str, Any]) -> SalespersonProfile:
    return SalespersonProfile(
        salesperson_id=document["_id"],
        active=document["active"],
        regions=frozenset(document.get("regions", [])),
        industries=frozenset(document.get("industries", [])),
        capacity=document["capacity"],
        load=document.get("load", 0),
        seniority=document["seniority"],
        last_assigned_at=document.get("last_assigned_at"),
    )


async def all_salespeople(uow: UnitOfWork) -> list[dict[str, Any]]:
    return await uow.db[SALESPEOPLE].find({}, session=uow.session).sort("_id").to_list()


async def list_salespeople(store: Store) -> list[dict[str, Any]]:
    return await store.db[SALESPEOPLE].find({}).sort("_id").to_list()


async def get_salesperson(source: Store | UnitOfWork, salesperson_id: str) -> dict[str, Any] | None:
    return await source.db[SALESPEOPLE].find_one({"_id": salesperson_id}, session=source.session)


async def insert_salesperson(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[SALESPEOPLE].insert_one(document, session=uow.session)


async def update_salesperson(
    uow: UnitOfWork, salesperson_id: str, fields: dict[str, Any]
) -> dict[str, Any] | None:
    return await uow.db[SALESPEOPLE].find_one_and_update(
        {"_id": salesperson_id},
        {"$set": fields},
        return_document=ReturnDocument.AFTER,
        session=uow.session,
    )


async def add_load(
    uow: UnitOfWork, salesperson_id: str | None, delta: int, assigned: bool = False
) -> None:
    if salesperson_id is None:
        return
    update: dict[str, Any] = {"$inc": {"load": delta}}
    if assigned:
        update["$set"] = {"last_assigned_at": datetime.now(UTC)}
    await uow.db[SALESPEOPLE].update_one({"_id": salesperson_id}, update, session=uow.session)


async def record_assignment(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    await uow.db[ASSIGNMENTS].insert_one(entry, session=uow.session)


async def assignment_history(
    store: Store, customer_id: str, limit: int, cursor: str | None
) -> Page:
    """The customer's assignment decisions, newest first."""
    order = sort_by("at", descending=True)
    found, after = await paged(
        store.db[ASSIGNMENTS], {"customer_id": customer_id}, order, limit, cursor
    )
    return [{"decision_id": entry.pop("_id"), **entry} for entry in found], after


async def insert_merge(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[MERGES].replace_one(
        {"_id": document["_id"]}, document, upsert=True, session=uow.session
    )


async def open_merge(uow: UnitOfWork, survivor_id: str, merged_id: str) -> dict[str, Any] | None:
    return await uow.db[MERGES].find_one(
        {"_id": merged_id, "survivor_id": survivor_id, "undone": False}, session=uow.session
    )


async def close_merge(uow: UnitOfWork, merged_id: str) -> None:
    await uow.db[MERGES].update_one(
        {"_id": merged_id},
        {"$set": {"undone": True, "undone_at": datetime.now(UTC)}},
        session=uow.session,
    )


# --- users --------------------------------------------------------------------------------------


async def user_by_name(store: Store, username: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await store.db[USERS].find_one({"username": username})
    return found


async def insert_user(store: Store, document: dict[str, Any]) -> None:
    await store.db[USERS].insert_one(document)


async def get_user(uow: UnitOfWork, user_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await uow.db[USERS].find_one(
        {"_id": user_id}, session=uow.session
    )
    return found


async def update_user(uow: UnitOfWork, user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Changes a user loaded in this transaction; the document after."""
    after: dict[str, Any] | None = await uow.db[USERS].find_one_and_update(
        {"_id": user_id},
        {"$set": fields},
        return_document=ReturnDocument.AFTER,
        session=uow.session,
    )
    assert after is not None, f"user {user_id} vanished in a transaction"
    return after


async def other_active_admins(uow: UnitOfWork, user_id: str) -> int:
    """Active admins but `user_id`. Touches one shared document first, so that two transactions
    that each remove a different admin conflict (one is retried and counts again) instead of both
    seeing the other's admin and leaving none."""
    await uow.db[ADMIN_CHANGES].update_one(
        {"_id": "admins"}, {"$inc": {"changes": 1}}, upsert=True, session=uow.session
    )
    return await uow.db[USERS].count_documents(
        {"role": "admin", "active": True, "_id": {"$ne": user_id}}, session=uow.session
    )


async def list_users(store: Store, limit: int, after_id: str | None) -> list[dict[str, Any]]:
    query = {"_id": {"$gt": after_id}} if after_id else {}
    return (
        await store.db[USERS].find(query, {"password_hash": 0}).sort("_id").limit(limit).to_list()
    )


async def login_failures(store: Store, username: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await store.db[LOGIN_FAILURES].find_one({"_id": username})
    return found


async def count_login_failure(
    store: Store, username: str, now: datetime, throttle: Throttle
) -> dict[str, Any]:
    """One more failed login for the name, in ONE atomic update (concurrent failures all count):
    a new window when the last one is over, a lock once the window holds `max_failures`."""
    stale = {
        "$or": [
            {"$eq": [{"$ifNull": ["$first_failure_at", None]}, None]},
            {"$lt": ["$first_failure_at", now - throttle.window]},
        ]
    }
    record: dict[str, Any] | None = await store.db[LOGIN_FAILURES].find_one_and_update(
        {"_id": username},
        [
            {
                "$set": {
                    "failures": {"$cond": [stale, 1, {"$add": ["$failures", 1]}]},
                    "first_failure_at": {"$cond": [stale, now, "$first_failure_at"]},
                }
            },
            {
                "$set": {
                    "locked_until": {
                        "$cond": [
                            {"$gte": ["$failures", throttle.max_failures]},
                            now + throttle.lock,
                            None,
                        ]
                    }
                }
            },
        ],
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert record is not None, "an upsert returning the document after always has one"
    return record


async def clear_login_failures(store: Store, username: str) -> None:
    await store.db[LOGIN_FAILURES].delete_one({"_id": username})
