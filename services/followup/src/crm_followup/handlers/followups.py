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
from crm_runtime.auth import Principal
from crm_runtime.store import Store, UnitOfWork

from crm_followup import adapters
from crm_followup.domain.followups import ChangeFollowup, LogFollowup, changed, new_followup
from crm_followup.handlers import PRODUCER, Conflict, NotFound, VersionRequired, workable_customer

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


async def log_followup(
    store: Store, command: LogFollowup, caller: Principal, correlation_id: UUID
) -> dict:
    payload = new_followup(command)
    event = VisitLogged(
        producer=PRODUCER,
        customer_id=command.customer_id,
        correlation_id=correlation_id,
        payload=payload,
    )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await workable_customer(uow, command.customer_id, caller)
        stored = document(command.customer_id, payload, PRODUCER, event.event_id)
        await adapters.insert(uow, adapters.FOLLOWUPS, stored)
        uow.emit(event)
        return stored

    return await store.run(work)


async def existing_followup(uow_or_store, followup_id: str) -> dict[str, Any]:
    stored = await adapters.find(uow_or_store, adapters.FOLLOWUPS, {"_id": followup_id})
    if stored is None:
        raise NotFound(f"no follow-up {followup_id}")
    return stored


async def change_followup(
    store: Store,
    followup_id: str,
    command: ChangeFollowup,
    version: int | None,
    caller: Principal,
    correlation_id: UUID,
) -> dict[str, Any]:
    expected = version if version is not None else command.version
    if expected is None:
        raise VersionRequired("send the version you read, in If-Match or as `version`")

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        stored = await existing_followup(uow, followup_id)
        await workable_customer(uow, stored["customer_id"], caller)
        if stored["status"] != "active":
            raise Conflict(
                f"follow-up {followup_id} is {stored['status']}", status=stored["status"]
            )
        if stored["version"] != expected:
            raise Conflict(
                f"follow-up {followup_id} changed since version {expected}",
                version=stored["version"],
            )
        after, names = changed(facts_of(stored), command)
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
        uow.emit(
            FollowupUpdated(
                producer=PRODUCER,
                customer_id=stored["customer_id"],
                correlation_id=correlation_id,
                payload=FollowupUpdatedPayload(
                    followup_id=followup_id,
                    version=updated["version"],
                    changed=names,
                    followup=after,
                ),
            )
        )
        return updated

    return await store.run(work)


async def revoke_followup(
    store: Store, followup_id: str, reason: str, caller: Principal, correlation_id: UUID
) -> dict[str, Any]:
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        stored = await existing_followup(uow, followup_id)
        await workable_customer(uow, stored["customer_id"], caller)
        if stored["status"] != "active":
            raise Conflict(f"follow-up {followup_id} is already {stored['status']}")
        revoked = await adapters.update(
            uow,
            adapters.FOLLOWUPS,
            {"_id": followup_id},
            {
                "$set": {
                    "status": "revoked",
                    "revoked_reason": reason,
                    "updated_at": datetime.now(UTC),
                },
                "$inc": {"version": 1},
            },
        )
        uow.emit(
            FollowupRevoked(
                producer=PRODUCER,
                customer_id=stored["customer_id"],
                correlation_id=correlation_id,
                payload=FollowupRevokedPayload(followup_id=followup_id, reason=reason),
            )
        )
        return revoked

    return await store.run(work)
