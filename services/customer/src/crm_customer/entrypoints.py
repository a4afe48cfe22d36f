"""HTTP doors of the customer service: thin, they parse and call a handler."""

from typing import Any

from fastapi import APIRouter, HTTPException, status

from crm_customer import adapters, handlers
from crm_customer.domain.customers import CreateCustomer
from crm_runtime.http import CorrelationId, StoreDep, public

router = APIRouter(tags=["customers"])


@router.post("/customers", status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "A customer with this credit code exists"}})
async def create_customer(command: CreateCustomer, store: StoreDep, correlation_id: CorrelationId) -> dict[str, Any]:
    try:
        return public(await handlers.create_customer(command, store, correlation_id))
    except handlers.DuplicateCreditCode as duplicate:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"reason": str(duplicate), "existing_customer_id": duplicate.existing_id}
        ) from None


@router.get("/customers/{customer_id}", responses={404: {"description": "No such customer"}})
async def get_customer(customer_id: str, store: StoreDep) -> dict[str, Any]:
    document = await adapters.find_customer(store, customer_id)
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return public(document)
