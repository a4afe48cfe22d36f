"""The one way to load a customer: for reading (404, 403) or for changing (404, 403, 409)."""

from typing import Any

from crm_runtime.auth import Principal, forbidden_unless
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.store import Store, UnitOfWork

from crm_customer.adapters import customers as customer_store


async def customer_to_read(
    source: Store | UnitOfWork, caller: Principal | None, customer_id: str
) -> dict[str, Any]:
    """The customer, if the caller may see it (None is the service itself, which sees all): 404
    when there is none, 403 when it is someone else's."""
    customer = await customer_store.get(source, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    if caller is not None:
        forbidden_unless(caller.may_see(customer.get("owner_id")), f"customer {customer_id}")
    return customer


async def customer_to_change(
    uow: UnitOfWork,
    caller: Principal | None,
    customer_id: str,
    *,
    version: int | None = None,
    status: str = "active",
) -> dict[str, Any]:
    """The customer in `status` (and at `version`, when the change is based on one read), if the
    caller may see it: 404, 403, or 409 saying what is there."""
    customer = await customer_to_read(uow, caller, customer_id)
    if customer["status"] != status:
        hint = ": restore it first" if customer["status"] == "archived" else ""
        raise Conflict(
            f"customer {customer_id} is {customer['status']}{hint}",
            status=customer["status"],
            version=customer["version"],
        )
    if version is not None and customer["version"] != version:
        raise Conflict(
            f"customer {customer_id} changed since version {version}: "
            f"it is at {customer['version']}",
            version=customer["version"],
        )
    return customer
