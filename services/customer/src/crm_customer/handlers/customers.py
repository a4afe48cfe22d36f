"""Create, update, archive, restore; likely duplicates."""

from typing import Any
from uuid import UUID

from crm_contracts import (
    CustomerArchived,
    CustomerArchivedPayload,
    CustomerRestored,
    CustomerRestoredPayload,
)
from crm_runtime.store import Store, UnitOfWork
from pymongo.errors import DuplicateKeyError

from crm_customer.adapters import customers as customer_store
from crm_customer.adapters import people
from crm_customer.domain.customers import (
    PRODUCER,
    CreateCustomer,
    UpdateCustomer,
    changes,
    new_customer,
    updated_event,
)
from crm_customer.domain.dedup import DedupKeys, duplicate_reasons
from crm_customer.handlers import Conflict, NotFound, require_version
from crm_customer.handlers.assignment import assign_by_rule


async def _credit_code_taken(store: Store, credit_code: str | None) -> Conflict:
    existing = await customer_store.find_by_credit_code(store, credit_code or "")
    existing_id = existing and existing["_id"]
    return Conflict(
        f"credit code {credit_code} is already customer {existing_id}",
        existing_customer_id=existing_id,
    )


async def create_customer(
    command: CreateCustomer, store: Store, correlation_id: UUID
) -> dict[str, Any]:
    """Stores the customer, assigns it by the rule (or queues it), reports likely duplicates."""
    document, event = new_customer(command, correlation_id)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await customer_store.insert(uow, document)
        uow.emit(event)
        keys = await customer_store.refresh_dedup_keys(uow, document)
        assignment = await assign_by_rule(
            uow,
            document,
            trigger="created",
            reason="new customer",
            correlation_id=correlation_id,
            causation_id=event.event_id,
        )
        return {"keys": keys, "assignment": assignment}

    try:
        outcome = await store.run(work)
    except DuplicateKeyError:
        raise await _credit_code_taken(store, command.credit_code) from None
    created = await customer_store.get(store, document["_id"])
    return {
        "customer": created,
        "assignment": outcome["assignment"],
        "likely_duplicates": await _duplicates_of(store, document["_id"], outcome["keys"]),
    }


async def likely_duplicates(store: Store, customer_id: str) -> list[dict[str, Any]]:
    customer = await customer_store.get(store, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    dedup = customer.get("dedup") or {}
    keys = DedupKeys(
        dedup.get("name", ""), tuple(dedup.get("phones", ())), tuple(dedup.get("domains", ()))
    )
    return await _duplicates_of(store, customer_id, keys)


async def _duplicates_of(store: Store, customer_id: str, keys: DedupKeys) -> list[dict[str, Any]]:
    found = []
    for other in await customer_store.candidates_sharing(store, keys, exclude_id=customer_id):
        dedup = other.get("dedup") or {}
        other_keys = DedupKeys(
            dedup.get("name", ""), tuple(dedup.get("phones", ())), tuple(dedup.get("domains", ()))
        )
        if reasons := duplicate_reasons(keys, other_keys):
            found.append(
                {"customer_id": other["_id"], "name": other.get("name"), "reasons": reasons}
            )
    return found


async def load_for_change(
    uow: UnitOfWork, customer_id: str, version: int, status: str = "active"
) -> dict:
    """The customer at the version the caller read, or the reason it is not (404, 409)."""
    customer = await customer_store.get(uow, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    if customer["status"] != status:
        raise Conflict(
            f"customer {customer_id} is {customer['status']}",
            status=customer["status"],
            version=customer["version"],
        )
    if customer["version"] != version:
        raise Conflict(
            f"customer {customer_id} changed since version {version}: "
            f"it is at {customer['version']}",
            version=customer["version"],
        )
    return customer


async def update_customer(
    store: Store,
    customer_id: str,
    command: UpdateCustomer,
    version: int | None,
    correlation_id: UUID,
) -> dict[str, Any]:
    expected = require_version(version if version is not None else command.version)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        customer = await load_for_change(uow, customer_id, expected)
        changed = changes(customer, command)
        if not changed:
            return customer
        after = await customer_store.update_if_version(uow, customer_id, expected, changed)
        uow.emit(updated_event(customer_id, after["version"], changed, correlation_id))
        if changed.keys() & {"name", "phone", "website"}:
            await customer_store.refresh_dedup_keys(uow, after)
        if changed.keys() & {"region", "industry", "size"} and after.get("owner_id") is None:
            await assign_by_rule(
                uow,
                after,
                trigger="salesperson_available",
                reason="customer data changed",
                correlation_id=correlation_id,
            )
        return after

    try:
        await store.run(work)
    except DuplicateKeyError:
        raise await _credit_code_taken(store, command.credit_code) from None
    return await customer_store.get(store, customer_id)


async def archive_customer(
    store: Store, customer_id: str, reason: str, version: int | None, correlation_id: UUID
) -> dict[str, Any]:
    expected = require_version(version)

    async def work(uow: UnitOfWork) -> None:
        await archive(uow, customer_id, expected, reason, correlation_id)

    await store.run(work)
    return await customer_store.get(store, customer_id)


async def archive(
    uow: UnitOfWork,
    customer_id: str,
    version: int,
    reason: str,
    correlation_id: UUID,
    merged_into: str | None = None,
) -> dict[str, Any]:
    """Never a delete: the customer leaves its owner's load and every list, and can be restored."""
    customer = await load_for_change(uow, customer_id, version)
    after = await customer_store.update_if_version(
        uow,
        customer_id,
        version,
        {"status": "archived", "archived_reason": reason, "merged_into": merged_into},
    )
    await people.add_load(uow, customer.get("owner_id"), -1)
    uow.emit(
        CustomerArchived(
            producer=PRODUCER,
            customer_id=customer_id,
            correlation_id=correlation_id,
            payload=CustomerArchivedPayload(
                version=after["version"], reason=reason, merged_into=merged_into
            ),
        )
    )
    return after


async def restore_customer(
    store: Store, customer_id: str, reason: str, version: int | None, correlation_id: UUID
) -> dict[str, Any]:
    expected = require_version(version)

    async def work(uow: UnitOfWork) -> None:
        customer = await customer_store.get(uow, customer_id)
        if customer is not None and customer.get("merged_into"):
            raise Conflict(
                f"customer {customer_id} was merged into {customer['merged_into']}: "
                "unmerge it instead",
                merged_into=customer["merged_into"],
            )
        await restore(uow, customer_id, expected, reason, correlation_id)

    await store.run(work)
    return await customer_store.get(store, customer_id)


async def restore(
    uow: UnitOfWork, customer_id: str, version: int, reason: str, correlation_id: UUID
) -> dict:
    customer = await load_for_change(uow, customer_id, version, status="archived")
    after = await customer_store.update_if_version(
        uow,
        customer_id,
        version,
        {"status": "active", "archived_reason": None, "merged_into": None},
        status="archived",
    )
    await people.add_load(uow, customer.get("owner_id"), +1)
    uow.emit(
        CustomerRestored(
            producer=PRODUCER,
            customer_id=customer_id,
            correlation_id=correlation_id,
            payload=CustomerRestoredPayload(version=after["version"], reason=reason),
        )
    )
    return after
