"""Merging a duplicate into the customer that stays, and undoing it."""

from datetime import UTC, datetime
from typing import Any

from crm_contracts import (
    CustomersMerged,
    CustomersMergedPayload,
    CustomersUnmerged,
    CustomersUnmergedPayload,
)
from crm_contracts.common import Id, Text
from crm_contracts.texts import fit
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.handlers import Command, Context
from crm_runtime.store import UnitOfWork

from crm_customer.adapters import COMPETITORS, CONTACTS, people
from crm_customer.adapters import customers as customer_store
from crm_customer.domain.customers import PRODUCER, too_many
from crm_customer.handlers.assignment import set_owner
from crm_customer.handlers.customers import archive, restore
from crm_customer.handlers.guards import customer_to_change
from crm_customer.settings import CustomerSettings


class MergeCustomers(Command):
    survivor_id: Id
    merged_id: Id
    reason: Text


class UnmergeCustomers(MergeCustomers):
    pass


async def merge(command: MergeCustomers, context: Context[CustomerSettings]) -> dict[str, Any]:
    """Contacts and competitors move to the survivor, which takes the merged one's owner if it has
    none; the merged customer is archived with a pointer. Follow-up history stays keyed by the
    merged id: CustomersMerged tells the other services to read it as the survivor's."""
    survivor_id, merged_id, reason = command.survivor_id, command.merged_id, command.reason
    if survivor_id == merged_id:
        raise Conflict("a customer cannot be merged into itself")
    by = context.caller.user_id if context.caller else None

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        survivor = await customer_to_change(uow, context.caller, survivor_id)
        merged = await customer_to_change(uow, context.caller, merged_id)
        contact_ids = await customer_store.child_ids(uow, CONTACTS, merged_id)
        competitor_ids = await customer_store.child_ids(uow, COMPETITORS, merged_id)
        for what, moved in ((CONTACTS, contact_ids), (COMPETITORS, competitor_ids)):
            kept = await customer_store.child_ids(uow, what, survivor_id)
            if problem := too_many(what, len(kept) + len(moved)):
                raise Conflict(f"the merge would give {survivor_id} {problem}")
        await customer_store.move_children(uow, CONTACTS, contact_ids, survivor_id)
        await customer_store.move_children(uow, COMPETITORS, competitor_ids, survivor_id)
        owner_taken = survivor.get("owner_id") is None and merged.get("owner_id") is not None
        await archive(
            uow,
            merged,
            fit(f"merged into {survivor_id}: {reason}"),
            context.correlation_id,
            merged_into=survivor_id,
        )
        if owner_taken:
            # The owner keeps the company: one customer less (archived above), one more (the
            # survivor).
            await set_owner(
                uow,
                survivor,
                merged["owner_id"],
                trigger="merge",
                reason=reason,
                why=f"took the owner of merged customer {merged_id}",
                by=by,
                correlation_id=context.correlation_id,
            )
        record = {
            "_id": merged_id,
            "survivor_id": survivor_id,
            "contact_ids": contact_ids,
            "competitor_ids": competitor_ids,
            "owner_taken": owner_taken,
            "reason": reason,
            "by": by,
            "at": datetime.now(UTC),
            "undone": False,
        }
        await people.insert_merge(uow, record)
        await customer_store.refresh_dedup_keys(uow, survivor)
        uow.emit(
            CustomersMerged(
                producer=PRODUCER,
                customer_id=survivor_id,
                correlation_id=context.correlation_id,
                payload=CustomersMergedPayload(
                    merged_id=merged_id,
                    moved_contact_ids=contact_ids,
                    moved_competitor_ids=competitor_ids,
                    reason=reason,
                ),
            )
        )
        return record

    return await context.store.run(work)


async def unmerge(command: UnmergeCustomers, context: Context[CustomerSettings]) -> dict[str, Any]:
    """Gives back what the merge moved and restores the merged customer (with its own owner)."""
    survivor_id, merged_id, reason = command.survivor_id, command.merged_id, command.reason

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        record = await people.open_merge(uow, survivor_id, merged_id)
        if record is None:
            raise NotFound(f"no merge of {merged_id} into {survivor_id} to undo")
        merged = await customer_to_change(uow, context.caller, merged_id, status="archived")
        await customer_store.move_children(uow, CONTACTS, record["contact_ids"], merged_id)
        await customer_store.move_children(uow, COMPETITORS, record["competitor_ids"], merged_id)
        await restore(
            uow, merged, fit(f"unmerged from {survivor_id}: {reason}"), context.correlation_id
        )
        await people.close_merge(uow, merged_id)
        for customer_id in (survivor_id, merged_id):
            customer = await customer_store.get(uow, customer_id)
            if customer is not None:
                await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            CustomersUnmerged(
                producer=PRODUCER,
                customer_id=survivor_id,
                correlation_id=context.correlation_id,
                payload=CustomersUnmergedPayload(
                    restored_id=merged_id,
                    returned_contact_ids=record["contact_ids"],
                    returned_competitor_ids=record["competitor_ids"],
                    reason=reason,
                ),
            )
        )
        return record

    return await context.store.run(work)
