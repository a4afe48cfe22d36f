"""Follow-ups: log, change, revoke."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    FollowupRevoked,
    FollowupRevokedPayload,
    FollowupUpdated,
    FollowupUpdatedPayload,
    VisitLogged,
    VisitLoggedPayload,
)
from crm_runtime.errors import Conflict, NotFound, Unprocessable
from crm_runtime.handlers import Context
from crm_runtime.store import UnitOfWork

from crm_followup import adapters
from crm_followup.domain.followups import (
    ChangeFollowup,
    LogFollowup,
    RevokeFollowup,
    changed,
    new_followup,
)
from crm_followup.handlers.common import PRODUCER, credited, workable_customer
from crm_followup.settings import FollowupSettings

FACTS = set(VisitLoggedPayload.model_fields)


def document(
    customer_id: str, payload: VisitLoggedPayload, source: str, event_id: UUID
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "_id": payload.followup_id,
        "customer_id": customer_id,
        **payload.model_dump(mode="json"),
        "started_at": payload.started_at,
        "ended_at": payload.ended_at,
        "status": "active",
        "version": 1,
        "source": source,
        "event_id": str(event_id),
        "created_at": now,
        "updated_at": now,
    }


def facts_of(stored: dict[str, Any]) -> VisitLoggedPayload:
    return VisitLoggedPayload.model_validate({k: v for k, v in stored.items() if k in FACTS})


async def log_followup(command: LogFollowup, context: Context[FollowupSettings]) -> dict[str, Any]:
    salesperson_id = credited(context.caller, command.salesperson_id)
    if salesperson_id is None:
        raise Unprocessable("salesperson_id: whom the follow-up is credited to is required")
    payload = new_followup(command, salesperson_id)
    event = VisitLogged(
        producer=PRODUCER,
        customer_id=command.customer_id,
        correlation_id=context.correlation_id,
        payload=payload,
    )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, command.customer_id, context.caller)
        stored = document(command.customer_id, payload, PRODUCER, event.event_id)
        await adapters.insert(uow, adapters.FOLLOWUPS, stored)
        uow.emit(event)
        return stored

    return await context.store.run(work)


async def _active_followup(
    uow: UnitOfWork, followup_id: str, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """The follow-up, for changing: its customer workable, credited to the caller unless a
    manager, and not revoked."""
    stored = await adapters.find(uow, adapters.FOLLOWUPS, {"_id": followup_id})
    if stored is None:
        raise NotFound(f"no follow-up {followup_id}")
    await workable_customer(uow, stored["customer_id"], context.caller)
    credited(context.caller, stored["salesperson_id"])
    if stored["status"] != "active":
        raise Conflict(f"follow-up {followup_id} is {stored['status']}", status=stored["status"])
    return stored


async def change_followup(
    command: ChangeFollowup, context: Context[FollowupSettings]
) -> dict[str, Any]:
    followup_id, expected = command.followup_id, command.version

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        stored = await _active_followup(uow, followup_id, context)
        if stored["version"] != expected:
            raise Conflict(
                f"follow-up {followup_id} changed since version {expected}",
                version=stored["version"],
            )
        after, names = changed(facts_of(stored), command.change)
        if not names:
            return stored
        fields = after.model_dump(mode="json", include=set(names))
        fields.update({k: getattr(after, k) for k in ("started_at", "ended_at") if k in names})
        updated = await adapters.update(
            uow,
            adapters.FOLLOWUPS,
            {"_id": followup_id, "version": expected},
            {"$set": {**fields, "updated_at": datetime.now(UTC)}, "$inc": {"version": 1}},
        )
        if updated is None:
            raise Conflict(f"follow-up {followup_id} changed meanwhile: read it again")
        uow.emit(
            FollowupUpdated(
                producer=PRODUCER,
                customer_id=stored["customer_id"],
                correlation_id=context.correlation_id,
                payload=FollowupUpdatedPayload(
                    followup_id=followup_id,
                    version=updated["version"],
                    changed=names,
                    followup=after,
                ),
            )
        )
        return updated

    return await context.store.run(work)


async def revoke_followup(
    command: RevokeFollowup, context: Context[FollowupSettings]
) -> dict[str, Any]:
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        stored = await _active_followup(uow, command.followup_id, context)
        revoked = await adapters.update(
            uow,
            adapters.FOLLOWUPS,
            {"_id": command.followup_id},
            {
                "$set": {
                    "status": "revoked",
                    "revoked_reason": command.reason,
                    "updated_at": datetime.now(UTC),
                },
                "$inc": {"version": 1},
            },
        )
        if revoked is None:
            raise Conflict(f"follow-up {command.followup_id} changed meanwhile: read it again")
        uow.emit(
            FollowupRevoked(
                producer=PRODUCER,
                customer_id=stored["customer_id"],
                correlation_id=context.correlation_id,
                payload=FollowupRevokedPayload(
                    followup_id=command.followup_id, reason=command.reason
                ),
            )
        )
        return revoked

    return await context.store.run(work)
