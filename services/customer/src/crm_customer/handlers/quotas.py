"""Quotas: set (a new version each time, announced as QuotaSet) and the one way to read one."""

from datetime import UTC, datetime
from typing import Any

from crm_runtime.auth import Principal, forbidden_unless
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.handlers import Context
from crm_runtime.store import Store, UnitOfWork

from crm_customer.adapters import people
from crm_customer.adapters import quotas as quota_store
from crm_customer.domain.quotas import (
    SetQuota,
    described,
    new_quota,
    next_version,
    quota_id,
    quota_set,
    readable,
    version_of,
)
from crm_customer.settings import CustomerSettings


async def quota_to_read(
    store: Store, caller: Principal | None, target: str, target_id: str, period: str
) -> dict[str, Any]:
    """The quota with its history, if the caller may see it: 403 when it is someone else's, 404
    when it was never set."""
    what = described(target, target_id, period)
    forbidden_unless(readable(caller, target, target_id), what)
    quota = await quota_store.get(store, quota_id(target, target_id, period))
    if quota is None:
        raise NotFound(f"{what} was never set")
    return quota


async def set_quota(command: SetQuota, context: Context[CustomerSettings]) -> dict[str, Any]:
    """Sets the whole target for the period as a new version, kept with every earlier one, and
    emits QuotaSet in the same transaction. Returns the quota as the transaction left it (the
    answer an Idempotency-Key keeps)."""
    key = quota_id(command.target, command.target_id, command.period)
    what = described(command.target, command.target_id, command.period)
    set_by = context.caller.user_id if context.caller is not None else None

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        salesperson = command.target == "salesperson"
        if salesperson and await people.get_salesperson(uow, command.target_id) is None:
            raise NotFound(f"no salesperson {command.target_id}")
        current = await quota_store.get(uow, key)
        made = next_version(what, current["version"] if current else None, command.version)
        version = version_of(command, made, set_by, datetime.now(UTC))
        if current is None:
            quota = new_quota(command, version)
            await quota_store.insert(uow, quota)
        elif (after := await quota_store.add_version(uow, key, version)) is None:
            raise Conflict(f"{what} changed meanwhile: read it again")
        else:
            quota = after
        uow.emit(quota_set(command, version, context.correlation_id))
        return quota

    return await context.store.run(work)
