"""Idempotency keys: a client that lost a write's answer (a timeout, an instance killed in the
middle) sends it again with the same `Idempotency-Key` and gets the first answer back, without
the write applied twice. The answer is kept in the command's own transaction, so a write and the
record that it was done commit together or not at all."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bson
from fastapi.exceptions import RequestValidationError
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

REQUESTS = "idempotent_requests"
# A day: long enough for any client's retries, short enough that the collection stays small.
RETENTION_S = 24 * 3600


@dataclass(frozen=True)
class RequestKey:
    """A client's key for one request, and what the request was (method, path, query, caller, body),
    so that the key sent again with another request is refused instead of answered wrongly."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, *parts: str | bytes) -> "RequestKey":
        digest = hashlib.sha256()
        for part in parts:
            digest.update(part.encode() if isinstance(part, str) else part)
            digest.update(b"\0")
        return cls(key, digest.hexdigest())


async def ensure_index(db: AsyncDatabase[Any]) -> None:
    await db[REQUESTS].create_index("at", expireAfterSeconds=RETENTION_S)


async def answered(
    db: AsyncDatabase[Any], session: AsyncClientSession, request: RequestKey
) -> dict[str, Any] | None:
    """The first answer to this request's command, if it committed: {"result": …}."""
    seen = await db[REQUESTS].find_one({"_id": request.key}, session=session)
    if seen is None:
        return None
    if seen["fingerprint"] != request.fingerprint:
        # As any invalid header is answered (a 422 listing it), which every operation documents.
        reused = "was used for another request: a new request needs a new key"
        error = {"loc": ("header", "Idempotency-Key"), "msg": reused, "type": "value_error"}
        raise RequestValidationError([error])
    return {"result": seen["result"]}


async def remember(
    db: AsyncDatabase[Any],
    session: AsyncClientSession,
    request: RequestKey,
    result: Any,
) -> Any:
    """Keeps the answer with the command's writes; returns it as a repeat will get it (as MongoDB
    keeps it: times to the millisecond), so that the first answer and the repeats are equal."""
    document = {
        "_id": request.key,
        "fingerprint": request.fingerprint,
        "result": result,
        "at": datetime.now(UTC),
    }
    await db[REQUESTS].insert_one(document, session=session)
    options = db.codec_options
    return bson.decode(bson.encode({"result": result}, codec_options=options), options)["result"]
