"""What each account adds to the reports' counters, pure.

An account (a customer counted on its own: not merged into another) contributes to each family
of counters one entry: a key (the counter it adds to) and amounts. Whenever a batch changes an
account, its contributions are computed again from its whole state, and the difference from what
it contributed before goes to the counters (counters.py): whatever order the events came in, the
counters end as the sum over the accounts as they are.

Dormancy depends on the time: an account is counted dormant as of when it was last counted,
with DORMANT_AFTER; a report corrects, from each account's counted `activity`, those whose
dormancy differs at its own time or with its own threshold."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_reporting.measures import activity, latest_prices, standing

Doc = dict[str, Any]
DORMANT_AFTER = timedelta(days=90)  # the reports' default: corrections stay few
VALUE = "value"
LIFECYCLE = "lifecycle"
FORECAST = "forecast"
VALUE_KEY = ("tier", "region", "industry", "band")
# The lifecycle and forecast counters are also kept summed over each of these, so that a report
# without a filter on one reads few counters.
FILTERS = ("industry", "region")
SUMMED = (LIFECYCLE, FORECAST)


@dataclass(frozen=True)
class Account:
    """What the counters need of an account: its profile, and a summary of its facts."""

    profile: Doc  # {} where there is none (facts of a customer not created, as far as seen)
    last_followup_at: datetime | None = None
    outcomes: frozenset[str] = frozenset()
    open_opportunities: tuple[Doc, ...] = ()  # each with its win_probability
    proposals: tuple[Doc, ...] = ()

    @property
    def has_open_opportunity(self) -> bool:
        return bool(self.open_opportunities)


def contributions(account: Account, now: datetime) -> dict[str, Doc]:
    """Each family's entry for the account: {"key": ..., "n": amounts}, and for the lifecycle
    the `activity` dormancy is measured from."""
    profile = account.profile
    segment = profile.get("segment") or {}
    found: dict[str, Doc] = {}
    if forecast := _forecast(account, segment):
        found[FORECAST] = forecast
    if profile.get("merged_into") or not profile.get("created_at"):
        return found
    if profile.get("status", "active") != "archived":
        tons = segment.get("monthly_freight_volume_tons") or 0
        found[VALUE] = {
            "key": {name: segment.get(name) for name in VALUE_KEY},
            # In millionths of a ton: integer sums stay exact whatever is added and taken away.
            "n": {"customers": 1, "freight_micro_tons": round(tons * 1_000_000)},
        }
    followed = {**profile, "last_followup_at": account.last_followup_at}
    outcomes = account.outcomes
    stage = standing(
        followed, account.has_open_opportunity, "won" in outcomes, outcomes == {"lost"}
    )
    last = activity(followed)
    found[LIFECYCLE] = {
        "key": {
            "region": segment.get("region"),
            "industry": segment.get("industry"),
            "month": profile["created_at"].strftime("%Y-%m"),
            "stage": stage,
            "dormant": is_dormant(stage, last, now - DORMANT_AFTER),
        },
        "n": {"customers": 1},
        "activity": last,
    }
    return found


def _forecast(account: Account, segment: Doc) -> Doc | None:
    """Its open opportunities under its owner, valued at their latest priced proposals, and
    weighted by their stages' win probabilities (in millionths, which add up exactly)."""
    if not account.open_opportunities:
        return None
    price_of = latest_prices(list(account.proposals))
    n: Counter[str] = Counter(open=len(account.open_opportunities))
    for opportunity in account.open_opportunities:
        if opportunity["_id"] not in price_of:
            n["unvalued"] += 1
            continue
        price, currency = price_of[opportunity["_id"]]
        n[f"pipeline_{currency}"] += round(price * 1_000_000)
        weighted = price * (opportunity.get("win_probability") or 0)
        n[f"weighted_{currency}"] += round(weighted * 1_000_000)
    owner = account.profile.get("owner_id") or "unassigned"
    key = {"owner": owner, "region": segment.get("region"), "industry": segment.get("industry")}
    return {"key": key, "n": dict(n)}


def is_dormant(stage: str, last: datetime | None, before: datetime) -> bool:
    """Not followed up since `before` (the churned are churned, not dormant)."""
    return stage != "churned" and last is not None and last < before


def counted_keys(family: str, key: Doc) -> Iterator[Doc]:
    """The counters an entry adds to: its key, and for the families SUMMED the same summed over
    each subset of FILTERS (`across` names them, comma-separated; "" for none)."""
    if family not in SUMMED:
        yield key
        return
    for across in ([], ["industry"], ["region"], ["industry", "region"]):
        yield {**key, **dict.fromkeys(across), "across": ",".join(across)}


def across(filtered: set[str]) -> str:
    """The counters of a family SUMMED to read for a report filtered on `filtered`."""
    return ",".join(name for name in FILTERS if name not in filtered)


Deltas = Counter[tuple[str, str, tuple[tuple[str, Any], ...]]]


def changes(before: dict[str, Doc], after: dict[str, Doc], into: Deltas) -> None:
    """Adds to `into` what goes from counting the account as `before` to counting it as `after`:
    (family, amount's name, key as sorted pairs) -> change."""
    for family in sorted(set(before) | set(after)):
        old, new = before.get(family), after.get(family)
        if old is not None and new is not None and (old["key"], old["n"]) == (new["key"], new["n"]):
            continue
        for entry, sign in ((old, -1), (new, 1)):
            if entry is None:
                continue
            for key in counted_keys(family, entry["key"]):
                pairs = tuple(sorted(key.items()))
                for name, amount in entry["n"].items():
                    into[family, name, pairs] += sign * amount
