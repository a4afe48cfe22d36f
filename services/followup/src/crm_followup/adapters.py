"""The follow-up service's MongoDB collections."""

from typing import Any

from crm_runtime.store import UnitOfWork

FOLLOWUPS = "followups"
DEALS = "deals"


async def insert(uow: UnitOfWork, collection: str, document: dict[str, Any]) -> None:
    await uow.db[collection].insert_one(document, session=uow.session)
