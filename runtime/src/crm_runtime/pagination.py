"""Cursor (keyset) pagination: a page ends with the cursor of its last item; the next page starts
after it. Stable while items are added, and no skip/limit scans. Sorts are (field, direction)
followed by ("_id", same direction) so ties are broken."""

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from crm_runtime.errors import Unprocessable

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Sort = list[tuple[str, int]]


def sort_by(field: str, descending: bool) -> Sort:
    direction = -1 if descending else 1
    return [(field, direction), ("_id", direction)]


def _encode_value(value: Any) -> Any:
    return {"$dt": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and value.keys() == {"$dt"} and isinstance(value["$dt"], str):
        return datetime.fromisoformat(value["$dt"])
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError("a cursor holds plain values only")


def next_cursor(items: list[dict[str, Any]], limit: int, sort: Sort) -> str | None:
    """The cursor after the page, if a page of `limit` was asked and more than that was fetched."""
    if len(items) <= limit:
        return None
    last = items[limit - 1]
    values = [_encode_value(_field(last, name)) for name, _ in sort]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def after(cursor: str | None, sort: Sort) -> dict[str, Any]:
    """The MongoDB filter for the items after `cursor` in `sort` order. A cursor that is not one
    this module made (garbled, from another sort, or carrying anything but plain values, such as
    a query operator) is a 422."""
    if not cursor:
        return {}
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(decoded, list) or len(decoded) != len(sort):
            raise ValueError("it belongs to another sort")
        values = [_decode_value(value) for value in decoded]
    except (ValueError, TypeError) as error:  # binascii.Error and JSON errors are ValueErrors
        raise Unprocessable(f"invalid cursor: {error}", cursor=cursor[:100]) from None
    (field, direction), (_, id_direction) = sort
    beyond = "$lt" if direction < 0 else "$gt"
    id_beyond = "$lt" if id_direction < 0 else "$gt"
    return {
        "$or": [
            {field: {beyond: values[0]}},
            {field: values[0], "_id": {id_beyond: values[1]}},
        ]
    }


def _field(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = (value or {}).get(part)
    return value
