"""The follow-up service's commands and reactions. Errors are the caller's to fix; the service
maps them to 4xx (see bootstrap)."""

from typing import Any

from crm_runtime.auth import Principal
from crm_runtime.store import UnitOfWork

from crm_followup import adapters

PRODUCER = "followup"


class NotFound(Exception):
    pass


class UnknownCustomer(Exception):
    """A reference to a customer this service has not learnt of (422)."""


class Conflict(Exception):
    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.details = details


class NotYours(Exception):
    """A salesperson acting on another salesperson's customer (403)."""


class VersionRequired(Exception):
    pass


async def workable_customer(
    uow: UnitOfWork, customer_id: str, caller: Principal | None
) -> dict[str, Any]:
    """The customer as learnt from the customer service's events, if work may be recorded on it."""
    customer = await adapters.find(uow, adapters.CUSTOMERS, {"_id": customer_id})
    if customer is None:
        raise UnknownCustomer(
            f"customer {customer_id} is not known here (yet): if it was just created, "
            "retry in a moment"
        )
    if customer.get("status") == "archived":
        raise Conflict(
            f"customer {customer_id} is archived", merged_into=customer.get("merged_into")
        )
    if caller is not None and not caller.may_see(customer.get("owner_id")):
        raise NotYours(f"customer {customer_id} is not yours")
    return customer
