"""HTTP doors of the customer service: thin, they check who asks, parse, and call a handler."""

import re
from typing import Annotated, Any

from fastapi import Header, HTTPException, status

from crm_customer.adapters import customers as customer_store
from crm_customer.handlers import NotFound
from crm_runtime.auth import Principal, forbidden_unless
from crm_runtime.store import Store

ERRORS = {
    401: {"description": "No valid token"},
    403: {"description": "The caller's role or ownership does not allow it"},
    404: {"description": "No such thing"},
    409: {"description": "The state forbids it: stale version, archived, duplicate…; `detail` says what is there"},
    422: {"description": "Invalid input; `detail` lists each field and why"},
    428: {"description": "An update without the version it was based on"},
}


def errors(*codes: int) -> dict[int, dict[str, str]]:
    return {code: ERRORS[code] for code in (401, 403, *codes)}


IfMatch = Annotated[str | None, Header(description='The version read, as its ETag ("3") or a plain number.')]


def version_from(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"?(\d+)"?\s*', if_match)
    if match is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"If-Match must be a version like \"3\", not {if_match!r}")
    return int(match.group(1))


async def visible_customer(store: Store, caller: Principal, customer_id: str) -> dict[str, Any]:
    """The customer, if the caller may see it: 404 when there is none, 403 when it is someone else's."""
    customer = await customer_store.get(store, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    forbidden_unless(caller.may_see(customer.get("owner_id")), f"customer {customer_id}")
    return customer
