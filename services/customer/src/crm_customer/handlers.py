"""The customer service's commands: load, decide with the domain, save and emit in one transaction."""

from typing import Any
from uuid import UUID

from pymongo.errors import DuplicateKeyError

from crm_customer import adapters
from crm_customer.domain.customers import CreateCustomer, new_customer
from crm_runtime.store import Store


class DuplicateCreditCode(Exception):
    def __init__(self, credit_code: str, existing_id: str | None) -> None:
        super().__init__(f"credit code {credit_code} is already customer {existing_id}")
        self.existing_id = existing_id


async def create_customer(command: CreateCustomer, store: Store, correlation_id: UUID) -> dict[str, Any]:
    document, event = new_customer(command, correlation_id)

    async def work(uow):
        await adapters.insert_customer(uow, document)
        uow.emit(event)

    try:
        await store.run(work)
    except DuplicateKeyError:
        existing = await adapters.find_by_credit_code(store, command.credit_code or "")
        raise DuplicateCreditCode(command.credit_code or "", existing and existing["_id"]) from None
    return document
