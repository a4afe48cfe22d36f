"""Cursor pagination over (time, id), newest first: stable while new items arrive, no skip/limit."""

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, status

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def encode_cursor(at: datetime, item_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), item_id]).encode()).decode()


def before_cursor(cursor: str | None, time_field: str) -> dict[str, Any]:
    """The MongoDB filter for the items after `cursor` in (time desc, _id desc) order."""
    if not cursor:
        return {}
    try:
        at_text, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(at_text)
    except (ValueError, TypeError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"invalid cursor: {error}") from None
    return {"$or": [{time_field: {"$lt": at}}, {time_field: at, "_id": {"$lt": item_id}}]}


def newest_first(time_field: str) -> list[tuple[str, int]]:
    return [(time_field, -1), ("_id", -1)]
