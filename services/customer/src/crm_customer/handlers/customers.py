"""Create, update, archive, restore; likely duplicates."""

from typing import Any
from uuid import UUID

from crm_contracts import (
    CustomerArchived,
    CustomerArchivedPayload,
    CustomerRestored,
    CustomerRestoredPayload,
)
from crm_runtime.auth import Principal
from crm_runtime.errors import Conflict
from crm_runtime.handlers import Context
from crm_runtime.store import Store, UnitOfWork
from pymongo.errors import DuplicateKeyError

from crm_customer.adapters import customers as customer_store
from crm_customer.adapters import people
from crm_customer.domain.customers import (
    PRODUCER,
    ArchiveCustomer,
    CreateCustomer,
    RestoreCustomer,
    UpdateCustomer,
    changes,
    new_customer,
    updated_event,
)
from crm_customer.domain.dedup import DedupKeys, duplicate_reasons
from crm_customer.handlers.assignment import assign_by_rule
from crm_customer.handlers.guards import customer_to_change, customer_to_read
from crm_customer.settings import CustomerSettings


async def _credit_code_taken(store: Store, credit_code: str | None) -> Conflict:
    existing = await customer_store.find_by_credit_code(store, credit_code or "")
    existing_id = existing and existing["_id"]
    return Conflict(
        f"credit code {credit_code} is already customer {existing_id}",
        existing_customer_id=existing_id,
    )


async def create_customer(
    command: CreateCustomer, context: Context[CustomerSettings]
) -> dict[str, Any]:
    """Stores the customer, assigns it by the rule (or queues it), reports likely duplicates."""
    document, event = new_customer(command, context.correlation_id)

    # The transaction answers with the ids and keys the answer is read with: sent again with its
    # Idempotency-Key, the request gets them back from it (crm_runtime.idempotency).
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await customer_store.insert(uow, document)
        uow.emit(event)
        keys = await customer_store.refresh_dedup_keys(uow, document)
        assignment = await assign_by_rule(
            uow,
            document,
            trigger="created",
            reason="new customer",
            correlation_id=context.correlation_id,
            causation_id=event.event_id,
        )
        dedup = [keys.name, list(keys.phones), list(keys.domains)]
        return {"id": document["_id"], "keys": dedup, "assignment": assignment}

    try:
        done = await context.store.run(work)
    except DuplicateKeyError:
        raise await _credit_code_taken(context.store, command.credit_code) from None
    name, phones, domains = done["keys"]
    keys = DedupKeys(name, tuple(phones), tuple(domains))
    return {
        "customer": await customer_store.get(context.store, done["id"]),
        "assignment": done["assignment"],
        "likely_duplicates": await _duplicates_of(context.store, done["id"], keys),
    }


async def likely_duplicates(
    store: Store, caller: Principal | None, customer_id: str
) -> list[dict[str, Any]]:
    """Active customers sharing the customer's normalised name, a phone or an e-mail domain."""
    customer = await customer_to_read(store, caller, customer_id)
    return await _duplicates_of(store, customer_id, _keys_of(customer))


def _keys_of(customer: dict[str, Any]) -> DedupKeys:
    dedup = customer.get("dedup") or {}
    return DedupKeys(
        dedup.get("name", ""), tuple(dedup.get("phones", ())), tuple(dedup.get("domains", ()))
    )


async def _duplicates_of(store: Store, customer_id: str, keys: DedupKeys) -> list[dict[str, Any]]:
    found = []
    for other in await customer_store.candidates_sharing(store, keys, exclude_id=customer_id):
        if reasons := duplicate_reasons(keys, _keys_of(other)):
            found.append(
                {"customer_id": other["_id"], "name": other.get("name"), "reasons": reasons}
            )
    return found


async def update_customer(
    command: UpdateCustomer, context: Context[CustomerSettings]
) -> dict[str, Any]:
    customer_id = command.customer_id

    async def work(uow: UnitOfWork) -> None:
        customer = await customer_to_change(
            uow, context.caller, customer_id, version=command.version
        )
        changed = changes(customer, command.change)
        if not changed:
            return
        after = await customer_store.update_if_version(uow, customer_id, command.version, changed)
        uow.emit(updated_event(customer_id, after["version"], changed, context.correlation_id))
        if changed.keys() & {"name", "phone", "website"}:
            await customer_store.refresh_dedup_keys(uow, after)
        if changed.keys() & {"region", "industry", "size"} and after.get("owner_id") is None:
            await assign_by_rule(
                uow,
                after,
                trigger="salesperson_available",
                reason="customer data changed",
                correlation_id=context.correlation_id,
            )

    try:
        await context.store.run(work)
    except DuplicateKeyError:
        raise await _credit_code_taken(context.store, command.change.credit_code) from None
    return await _current(context.store, customer_id)


async def _current(store: Store, customer_id: str) -> dict[str, Any]:
    """The customer just changed in a transaction that committed: it is there."""
    customer = await customer_store.get(store, customer_id)
    assert customer is not None, customer_id
    return customer


async def archive_customer(
    command: ArchiveCustomer, context: Context[CustomerSettings]
) -> dict[str, Any]:
    async def work(uow: UnitOfWork) -> None:
        customer = await customer_to_change(
            uow, context.caller, command.customer_id, version=command.version
        )
        await archive(uow, customer, command.reason, context.correlation_id)

    await context.store.run(work)
    return await _current(context.store, command.customer_id)


async def archive(
    uow: UnitOfWork,
    customer: dict[str, Any],
    reason: str,
    correlation_id: UUID,
    merged_into: str | None = None,
) -> dict[str, Any]:
    """Never a delete: the customer leaves its owner's load and every list, and can be restored.
    `customer` is as loaded for changing, in this transaction."""
    after = await customer_store.update_if_version(
        uow,
        customer["_id"],
        customer["version"],
        {"status": "archived", "archived_reason": reason, "merged_into": merged_into},
    )
    await people.add_load(uow, customer.get("owner_id"), -1)
    uow.emit(
        CustomerArchived(
            producer=PRODUCER,
            customer_id=customer["_id"],
            correlation_id=correlation_id,
            payload=CustomerArchivedPayload(
                version=after["version"], reason=reason, merged_into=merged_into
            ),
        )
    )
    return after


async def restore_customer(
    command: RestoreCustomer, context: Context[CustomerSettings]
) -> dict[str, Any]:
    customer_id = command.customer_id

    async def work(uow: UnitOfWork) -> None:
        customer = await customer_to_change(
            uow, context.caller, customer_id, version=command.version, status="archived"
        )
        if customer.get("merged_into"):
            raise Conflict(
                f"customer {customer_id} was merged into {customer['merged_into']}: "
                "unmerge it instead",
                merged_into=customer["merged_into"],
            )
        await restore(uow, customer, command.reason, context.correlation_id)

    await context.store.run(work)
    return await _current(context.store, customer_id)


async def restore(
    uow: UnitOfWork, customer: dict[str, Any], reason: str, correlation_id: UUID
) -> dict[str, Any]:
    """`customer` is as loaded for changing (archived), in this transaction."""
    after = await customer_store.update_if_version(
        uow,
        customer["_id"],
        customer["version"],
        {"status": "active", "archived_reason": None, "merged_into": None},
        status="archived",
    )
    await people.add_load(uow, customer.get("owner_id"), +1)
    uow.emit(
        CustomerRestored(
            producer=PRODUCER,
            customer_id=customer["_id"],
            correlation_id=correlation_id,
            payload=CustomerRestoredPayload(version=after["version"], reason=reason),
        )
    )
    return after
