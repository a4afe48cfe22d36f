"""Texts a producer writes from the data (reasons, summaries), made to fit the contracts'
length limits whatever the data holds. Pure: no I/O."""

from collections.abc import Sequence

from crm_contracts.common import LABEL_MAX_LENGTH, TEXT_MAX_LENGTH

ELLIPSIS = "…"
# A listing inside a reason leaves room for the rest of the reason around it.
LISTING_MAX_LENGTH = 300


def fit(text: str, limit: int = TEXT_MAX_LENGTH) -> str:
    """The text, or its start and an ellipsis when it is longer than `limit` characters."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def quoted(value: str) -> str:
    """A value of the data quoted in a reason: stripped, and no longer than a label."""
    return f"'{fit(value.strip(), LABEL_MAX_LENGTH)}'"


def listing(values: Sequence[str], plural: str, limit: int = LISTING_MAX_LENGTH) -> str:
    """'north, west' when the whole list fits in `limit` characters; otherwise how many, and as
    many of the first as fit: '2,200 regions: East, North, …'."""
    whole = ", ".join(values)
    if len(whole) <= limit:
        return whole
    shown = f"{len(values):,} {plural}: "
    for value in values:
        longer = f"{shown}{fit(value, LABEL_MAX_LENGTH)}, "
        if len(longer) + len(ELLIPSIS) > limit:
            break
        shown = longer
    return fit(shown + ELLIPSIS, limit)
