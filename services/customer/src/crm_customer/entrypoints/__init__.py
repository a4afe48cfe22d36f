"""HTTP doors of the customer service: thin, they check who asks, parse, and call a handler."""

from typing import Any

from crm_runtime.auth import Principal, forbidden_unless
from crm_runtime.http import IfMatch, errors, version_from
from crm_runtime.store import Store

from crm_customer.adapters import customers as customer_store
from crm_customer.handlers import NotFound

__all__ = ["IfMatch", "errors", "version_from", "visible_customer"]


async def visible_customer(store: Store, caller: Principal, customer_id: str) -> dict[str, Any]:
    """The customer, if the caller may see it: 404 when there is none, 403 when it is someone
    else's."""
    customer = await customer_store.get(store, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    forbidden_unless(caller.may_see(customer.get("owner_id")), f"customer {customer_id}")
    return customer
