"""Cursor (keyset) pagination: a page ends with the cursor of its last item; the next page starts
after it. Stable while items are added, and no skip/limit scans. Sorts are (field, direction)
followed by ("_id", same direction) so ties are broken."""

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, status

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Sort = list[tuple[str, int]]


def sort_by(field: str, descending: bool) -> Sort:
    direction = -1 if descending else 1
    return [(field, direction), ("_id", direction)]


def _encode_value(value: Any) -> Any:
    return {"$dt": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value: Any) -> Any:
    return datetime.fromisoformat(value["$dt"]) if isinstance(value, dict) and "$dt" in value else value


def next_cursor(items: list[dict[str, Any]], limit: int, sort: Sort) -> str | None:
    """The cursor after the page, if a page of `limit` was asked and more than that was fetched."""
    if len(items) <= limit:
        return None
    last = items[limit - 1]
    values = [_encode_value(_field(last, name)) for name, _ in sort]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def after(cursor: str | None, sort: Sort) -> dict[str, Any]:
    """The MongoDB filter for the items after `cursor` in `sort` order."""
    if not cursor:
        return {}
    try:
        values = [_decode_value(value) for value in json.loads(base64.urlsafe_b64decode(cursor.encode()))]
        if len(values) != len(sort):
            raise ValueError("it belongs to another sort")
    except (ValueError, TypeError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"invalid cursor: {error}") from None
    (field, direction), (_, id_direction) = sort
    beyond, id_beyond = ("$lt" if direction < 0 else "$gt"), ("$lt" if id_direction < 0 else "$gt")
    return {"$or": [{field: {beyond: values[0]}}, {field: values[0], "_id": {id_beyond: values[1]}}]}


def _field(document: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        document = (document or {}).get(part)
    return document
