"""Assignment: run the rule, record the decision with its reasons, emit CustomerAssigned."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    CandidateVerdict,
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomerScored,
)
from crm_contracts.common import Id, Text
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.handlers import Command, Context
from crm_runtime.store import Store, UnitOfWork

from crm_customer.adapters import customers as customer_store
from crm_customer.adapters import people
from crm_customer.domain.assignment import (
    CustomerProfile,
    decide,
    listed_candidates,
    should_move_on_tier_up,
)
from crm_customer.domain.customers import PRODUCER
from crm_customer.handlers.guards import customer_to_change
from crm_customer.settings import CustomerSettings

TIER_RANK = {"D": 0, "C": 1, "B": 2, "A": 3}
HIGH_VALUE_TIERS = ("A", "B")


def customer_profile(customer: dict[str, Any]) -> CustomerProfile:
    return CustomerProfile(
        customer["_id"],
        customer.get("region"),
        customer.get("industry"),
        customer.get("size"),
        customer.get("tier"),
    )


async def set_owner(
    uow: UnitOfWork,
    customer: dict[str, Any],
    owner_id: str | None,
    *,
    trigger: str,
    reason: str,
    why: str,
    candidates: list[dict[str, Any]] | None = None,
    considered: int | None = None,
    by: str | None = None,
    correlation_id: UUID,
    causation_id: UUID | None = None,
) -> dict[str, Any]:
    """Moves ownership (and the salespeople's loads) and records the decision, even a 'nobody'."""
    previous = customer.get("owner_id")
    if owner_id != previous:
        await people.add_load(uow, previous, -1)
        await people.add_load(uow, owner_id, +1, assigned=True)
        await customer_store.set_fields(
            uow, customer["_id"], {"owner_id": owner_id, "assigned_at": datetime.now(UTC)}
        )
    event = CustomerAssigned(
        producer=PRODUCER,
        customer_id=customer["_id"],
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=CustomerAssignedPayload(
            owner_id=owner_id,
            previous_owner_id=previous,
            trigger=trigger,
            reason=reason,
            why=why,
            candidates=[CandidateVerdict(**candidate) for candidate in candidates or []],
            candidates_considered=considered,
            assigned_by=by,
            tier=customer.get("tier"),
        ),
    )
    entry = {
        "_id": str(event.event_id),
        "customer_id": customer["_id"],
        "at": event.occurred_at,
        **event.payload.model_dump(mode="json"),
    }
    await people.record_assignment(uow, entry)
    uow.emit(event)
    return entry


async def assign_by_rule(
    uow: UnitOfWork,
    customer: dict[str, Any],
    *,
    trigger: str,
    reason: str,
    correlation_id: UUID,
    causation_id: UUID | None = None,
) -> dict[str, Any] | None:
    """Runs the rule; returns the recorded decision, or None when nothing was to change."""
    profiles = [people.profile(document) for document in await people.all_salespeople(uow)]
    decision = decide(customer_profile(customer), profiles)
    current = customer.get("owner_id")
    if trigger == "tier_up":
        by_id = {profile.salesperson_id: profile for profile in profiles}
        if not should_move_on_tier_up(by_id.get(current) if current else None, decision, by_id):
            return None
    elif trigger == "salesperson_available" and decision.winner_id is None:
        return None  # still nobody: the queue entry already says why
    candidates = [
        {"salesperson_id": c.salesperson_id, "eligible": c.eligible, "reasons": list(c.reasons)}
        for c in listed_candidates(decision)
    ]
    return await set_owner(
        uow,
        customer,
        decision.winner_id,
        trigger=trigger,
        reason=reason,
        why=decision.why,
        candidates=candidates,
        considered=len(decision.candidates),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


class ReassignCustomer(Command):
    customer_id: Id
    salesperson_id: Id
    reason: Text


async def reassign(command: ReassignCustomer, context: Context[CustomerSettings]) -> dict[str, Any]:
    """A manager gives the customer to a salesperson by hand, with a reason kept in the history."""
    salesperson_id = command.salesperson_id

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        customer = await customer_to_change(uow, context.caller, command.customer_id)
        salesperson = await people.get_salesperson(uow, salesperson_id)
        if salesperson is None:
            raise NotFound(f"no salesperson {salesperson_id}")
        if not salesperson["active"]:
            raise Conflict(f"salesperson {salesperson_id} is inactive and never receives customers")
        if customer.get("owner_id") == salesperson_id:
            raise Conflict(f"customer {command.customer_id} already belongs to {salesperson_id}")
        load, capacity = salesperson.get("load", 0), salesperson["capacity"]
        why = "reassigned by a manager" + (
            f" beyond capacity ({load}/{capacity})" if load >= capacity else ""
        )
        return await set_owner(
            uow,
            customer,
            salesperson_id,
            trigger="manual",
            reason=command.reason,
            why=why,
            by=context.caller.user_id if context.caller else None,
            correlation_id=context.correlation_id,
        )

    return await context.store.run(work)


async def assign_waiting_customers(store: Store, correlation_id: UUID, limit: int = 500) -> int:
    """After a salesperson appears or changes: give queued customers, oldest first, to whoever is
    now eligible. Each in its own transaction, so one conflict does not undo the others."""
    waiting, _ = await customer_store.waiting_for_owner(store, limit)
    assigned = 0
    for queued in waiting:

        async def work(uow: UnitOfWork, customer_id: str = queued["_id"]) -> bool:
            customer = await customer_store.get(uow, customer_id)
            if (
                customer is None
                or customer["status"] != "active"
                or customer.get("owner_id") is not None
            ):
                return False
            entry = await assign_by_rule(
                uow,
                customer,
                trigger="salesperson_available",
                reason="a salesperson became eligible",
                correlation_id=correlation_id,
            )
            return entry is not None

        assigned += await store.run(work)
    return assigned


async def on_customer_scored(
    event: CustomerScored, uow: UnitOfWork, reassign_on_tier_up: bool
) -> None:
    """Keeps the tier; when it rises, the rule may move the customer up (switchable)."""
    customer = await customer_store.get(uow, event.customer_id)
    if customer is None or customer["status"] != "active":
        return  # scored before we know it, or archived: nothing to assign
    old, new = customer.get("tier"), event.payload.tier.value
    if old == new:
        return
    await customer_store.set_fields(uow, customer["_id"], {"tier": new})
    # Only a rise into a high-value tier calls for more seniority; a first D or C moves nobody.
    if (
        reassign_on_tier_up
        and new in HIGH_VALUE_TIERS
        and TIER_RANK[new] > TIER_RANK.get(old or "", -1)
    ):
        await assign_by_rule(
            uow,
            {**customer, "tier": new},
            trigger="tier_up",
            reason=f"tier rose from {old or 'none'} to {new}",
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
        )
