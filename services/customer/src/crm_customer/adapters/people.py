"""Salespeople, the assignment history, merges, users and failed logins."""

from datetime import UTC, datetime
from typing import Any

from crm_runtime.store import Store, UnitOfWork
from pymongo import ReturnDocument

from crm_customer.adapters import ASSIGNMENTS, LOGIN_FAILURES, MERGES, SALESPEOPLE, USERS
from crm_customer.domain.assignment import SalespersonProfile


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
) -> dict | None:
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
    store: Store, query: dict[str, Any], sort: list, limit: int
) -> list[dict]:
    return await store.db[ASSIGNMENTS].find(query).sort(sort).limit(limit).to_list()


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
    return await store.db[USERS].find_one({"username": username})


async def insert_user(store: Store, document: dict[str, Any]) -> None:
    await store.db[USERS].insert_one(document)


async def update_user(store: Store, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    return await store.db[USERS].find_one_and_update(
        {"_id": user_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
    )


async def list_users(store: Store, limit: int, after_id: str | None) -> list[dict[str, Any]]:
    query = {"_id": {"$gt": after_id}} if after_id else {}
    return (
        await store.db[USERS].find(query, {"password_hash": 0}).sort("_id").limit(limit).to_list()
    )


async def login_failures(store: Store, username: str) -> dict[str, Any] | None:
    return await store.db[LOGIN_FAILURES].find_one({"_id": username})


async def save_login_failures(store: Store, username: str, record: dict[str, Any]) -> None:
    await store.db[LOGIN_FAILURES].replace_one({"_id": username}, record, upsert=True)


async def clear_login_failures(store: Store, username: str) -> None:
    await store.db[LOGIN_FAILURES].delete_one({"_id": username})
