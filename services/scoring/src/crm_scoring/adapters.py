"""Scoring's own memory of each customer's signals, in MongoDB."""

from typing import Any

from pymongo import ReturnDocument

from crm_runtime.store import UnitOfWork
from crm_scoring.domain import Signals

SIGNALS = "signals"


async def update_signals(uow: UnitOfWork, customer_id: str, update: dict[str, Any]) -> Signals:
    document = await uow.db[SIGNALS].find_one_and_update(
        {"_id": customer_id}, update, upsert=True, return_document=ReturnDocument.AFTER, session=uow.session
    )
    known = Signals.__dataclass_fields__
    return Signals(**{name: value for name, value in document.items() if name in known})
