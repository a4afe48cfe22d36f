"""What every command handler of the service shares: the guards on the customer a request is
about, and whom a follow-up or a deal is credited to."""

from typing import Any

from crm_runtime.auth import Principal
from crm_runtime.errors import Conflict, Forbidden, NotFound, Unprocessable
from crm_runtime.store import Store, UnitOfWork

from crm_followup import adapters

PRODUCER = "followup"


async def workable_customer(
    uow: UnitOfWork, customer_id: str, caller: Principal | None
) -> dict[str, Any]:
    """The customer, as learnt from the customer service's events, when work may be recorded on
    it: 422 when not known here, 409 when archived, 403 when another salesperson's."""
    customer = await adapters.find(uow, adapters.CUSTOMERS, {"_id": customer_id})
    if customer is None:
        raise Unprocessable(
            f"customer {customer_id} is not known here (yet): if it was just created, "
            "retry in a moment"
        )
    if customer.get("status") == "archived":
        raise Conflict(
            f"customer {customer_id} is archived", merged_into=customer.get("merged_into")
        )
    if caller is not None and not caller.may_see(customer.get("owner_id")):
        raise Forbidden(f"customer {customer_id} is not yours")
    return customer


async def readable_customer(store: Store, customer_id: str, caller: Principal | None) -> None:
    """Reads follow the same ownership as writes: managers all, a salesperson their own
    customers (403)."""
    customer = await adapters.find(store, adapters.CUSTOMERS, {"_id": customer_id})
    owner_id = customer.get("owner_id") if customer is not None else None
    if caller is not None and not caller.may_see(owner_id):
        raise Forbidden(f"customer {customer_id} is not yours")


async def readable(
    store: Store, collection: str, item_id: str, caller: Principal | None
) -> dict[str, Any]:
    """A follow-up, opportunity or proposal the caller may read: 404, or 403 when its customer is
    another salesperson's."""
    item = await adapters.find(store, collection, {"_id": item_id})
    if item is None:
        raise NotFound(f"nothing with id {item_id}")
    await readable_customer(store, item["customer_id"], caller)
    return item


def credited(caller: Principal | None, salesperson_id: str | None) -> str | None:
    """Whom the work is credited to: a salesperson only themselves (403 otherwise)."""
    return caller.credits(salesperson_id) if caller is not None else salesperson_id
