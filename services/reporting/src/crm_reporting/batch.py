"""What a partition batch reads once and writes together.

The batch is applied in one transaction. At its first handler, the documents its events will look
at are read, one query per collection: the profiles of its customers (and of the accounts they are
merged into), the facts of the follow-ups and opportunities it changes. Its writes are queued,
coalesced per document (coalesce.py), and sent in bulk before the commit. The handlers keep what
was read as the batch's writes leave it, so that an event sees the earlier ones of its batch
without reading again. What it changed is noted, in the same transaction, to be counted again
for the reports' counters (counters.py).

Deciding a condition from what was read is safe because the document is written in the same
transaction: a change of it committed meanwhile makes the transaction conflict, and retry."""

import functools
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_contracts import (
    CustomerAssigned,
    CustomerCreated,
    CustomersMerged,
    CustomersUnmerged,
    CustomerUpdated,
    FollowupUpdated,
    OpportunityOpened,
    OpportunityUpdated,
    StageChanged,
    VisitLogged,
)
from crm_runtime.store import UnitOfWork

from crm_reporting import counters
from crm_reporting.adapters import FOLLOWUPS, OPPORTUNITIES, PROFILES
from crm_reporting.coalesce import CollectionWrites, Write

MEMO = "reporting"  # where the batch is kept in the unit of work's memo
COUNTED = "reporting.counted"  # after the batch's writes are queued
# The times that the conditional updates of profiles and opportunities compare with.
TIMES = {
    PROFILES: ("latest_score.occurred_at", "financials.occurred_at", "tier_at"),
    OPPORTUNITIES: ("stage_at", "probability_at", "terms_at"),
}
FOLLOWUP_SEEN = {"version": 1, "details": 1, "at": 1}
DESCRIBED = {"$eq": [{"$type": "$profile"}, "object"]}  # computed by the find, not read whole
CHANGE_WHAT_FACTS_COUNT = (CustomerCreated, CustomerUpdated, CustomerAssigned)


@dataclass
class Profile:
    exists: bool
    merged_into: str | None
    described: bool = False  # its `profile` is an object (else null: no CustomerCreated yet)


class Batch:
    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        # Follow-ups read (None: there is none), as the batch's writes leave them.
        self.followups: dict[str, dict[str, Any] | None] = {}
        # (collection, _id): the times of TIMES, as the batch's writes leave them.
        self.times: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes: dict[str, CollectionWrites] = {}
        self.filed: Counter[str] = Counter()  # facts filed through each profile, to count there
        # To be counted again: the accounts whose profile the batch changed, or that its merges
        # moved facts from; the facts it wrote (and their accounts); every fact of the accounts
        # its merges moved facts to (`wide`).
        self.touched: set[str] = set()
        self.facts: dict[str, set[str]] = {}
        self.wide: set[str] = set()

    def to(self, collection: str) -> CollectionWrites:
        queue = self.writes.get(collection)
        if queue is None:
            queue = self.writes[collection] = CollectionWrites()
        return queue

    def send(self, uow: UnitOfWork) -> None:
        """Queues the batch's writes on the unit of work."""
        for customer_id, filed in self.filed.items():  # no other write touches facts_filed
            self.to(PROFILES).update(customer_id, Write({"$inc": {"facts_filed": filed}}))
        self.filed.clear()
        for collection, queue in self.writes.items():
            if models := queue.take():
                uow.write(collection, *models)


async def batch_of(uow: UnitOfWork) -> Batch:
    """The batch's state, read at its first handler, before it has written anything."""
    batch: Batch | None = uow.memo.get(MEMO)
    if batch is None:
        batch = uow.memo[MEMO] = Batch()
        await _read(uow, batch)
        uow.before_commit(MEMO, functools.partial(batch.send, uow))

        def count() -> None:
            # What a fact counts under depends on its account's segment, owner and creation.
            wide = {e.customer_id for e in uow.events if isinstance(e, CHANGE_WHAT_FACTS_COUNT)}
            counters.to_count(uow, batch.touched, batch.facts, batch.wide | wide)

        uow.before_commit(COUNTED, count)
    return batch


async def _read(uow: UnitOfWork, batch: Batch) -> None:
    customers: set[str] = set()
    followups: set[str] = set()
    opportunities: set[str] = set()
    for event in uow.events:
        customers.add(event.customer_id)
        if isinstance(event, CustomersMerged):
            customers.add(event.payload.merged_id)
        elif isinstance(event, CustomersUnmerged):
            customers.add(event.payload.restored_id)
        elif isinstance(event, VisitLogged | FollowupUpdated):
            followups.add(event.payload.followup_id)
        elif isinstance(event, OpportunityOpened | StageChanged | OpportunityUpdated):
            opportunities.add(event.payload.opportunity_id)
    await read_profiles(uow, batch, customers)
    if followups:
        batch.followups = dict.fromkeys(followups)
        found = uow.db[FOLLOWUPS].find(
            {"_id": {"$in": sorted(followups)}}, FOLLOWUP_SEEN, session=uow.session
        )
        batch.followups.update({fact["_id"]: fact for fact in await found.to_list()})
    if opportunities:
        await _read_times(uow, batch, OPPORTUNITIES, opportunities)


async def read_profiles(uow: UnitOfWork, batch: Batch, ids: set[str]) -> None:
    """The profiles of `ids` and of the accounts they are merged into, along each chain."""
    while ids:
        found = await _read_times(uow, batch, PROFILES, ids, merged_into=1, described=DESCRIBED)
        batch.profiles.update(
            {
                id_: Profile(
                    id_ in found,
                    found.get(id_, {}).get("merged_into"),
                    bool(found.get(id_, {}).get("described")),
                )
                for id_ in ids
            }
        )
        ids = {
            account
            for profile in found.values()
            if (account := profile.get("merged_into")) and account not in batch.profiles
        }


async def _read_times(
    uow: UnitOfWork, batch: Batch, collection: str, ids: set[str], **also: Any
) -> dict[str, dict[str, Any]]:
    projection = dict.fromkeys(TIMES[collection], 1) | also
    found = {
        document["_id"]: document
        for document in await uow.db[collection]
        .find({"_id": {"$in": sorted(ids)}}, projection, session=uow.session)
        .to_list()
    }
    for id_ in ids:
        document = found.get(id_, {})
        batch.times[collection, id_] = {path: _at(document, path) for path in TIMES[collection]}
    return found


def _at(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


async def profile_of(uow: UnitOfWork, batch: Batch, customer_id: str) -> Profile:
    if customer_id not in batch.profiles:  # none of the batch's: no write of it is queued
        await read_profiles(uow, batch, {customer_id})
    return batch.profiles[customer_id]


async def sent(uow: UnitOfWork, collection: str) -> Any:
    """The collection, once every write queued before is sent: to read what the batch wrote."""
    (await batch_of(uow)).send(uow)
    return await uow.read(collection)


def kept(stored: Any, at: datetime, *, ties_kept: bool) -> bool:
    """Whether the time `stored` wins over `at` as MongoDB compares them (to the millisecond;
    what is not a time never wins): when it is later, or the same where `ties_kept`."""
    if not isinstance(stored, datetime):
        return False
    mine, theirs = _ms(stored), _ms(at)
    return mine >= theirs if ties_kept else mine > theirs


def _ms(at: datetime) -> datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
