"""Quotas: set (a new version each time, announced as QuotaSet) and the one way to read one."""

from datetime import UTC, datetime
from typing import Any

from crm_runtime.auth import Principal, forbidden_unless
from crm_runtime.errors import NotFound
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


async def set_quota(
    command: SetQuota, context: Context[CustomerSettings]
) -> tuple[int, dict[str, Any]]:
    """Sets the whole target for the period as a new version, kept with every earlier one, and
    emits QuotaSet in the same transaction. Returns the version made and the quota."""
    key = quota_id(command.target, command.target_id, command.period)
    what = described(command.target, command.target_id, command.period)
    set_by = context.caller.user_id if context.caller is not None else None

    async def work(uow: UnitOfWork) -> int:
        salesperson = command.target == "salesperson"
        if salesperson and await people.get_salesperson(uow, command.target_id) is None:
            raise NotFound(f"no salesperson {command.target_id}")
        current = await quota_store.get(uow, key)
        made = next_version(what, current["version"] if current else None, command.version)
        version = version_of(command, made, set_by, datetime.now(UTC))
        if current is None:
            await quota_store.insert(uow, new_quota(command, version))
        else:
            await quota_store.add_version(uow, key, version)
        uow.emit(quota_set(command, version, context.correlation_id))
        return made

    made = await context.store.run(work)
    quota = await quota_store.get(context.store, key)
    assert quota is not None, f"{what} vanished after it was set"
    return made, quota
