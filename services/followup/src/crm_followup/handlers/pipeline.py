"""Opportunities: opened (several per customer), their terms and probability changed, and moved
through the stages; a deal closes one (handlers.deals)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    OpportunityOpened,
    OpportunityOpenedPayload,
    OpportunityTerms,
    OpportunityUpdated,
    OpportunityUpdatedPayload,
    ServiceLine,
    StageChanged,
    StageChangedPayload,
)
from crm_runtime.errors import Conflict, NotFound, Unprocessable
from crm_runtime.handlers import Context
from crm_runtime.pipeline import LOST, WON, Pipeline
from crm_runtime.store import UnitOfWork

from crm_followup import adapters
from crm_followup.domain.opportunities import (
    MAX_OPEN_PER_CUSTOMER,
    TERMS,
    ChangeOpportunity,
    MoveStage,
    OpenOpportunity,
    ReopenOpportunity,
    StageMove,
    change_time,
    changed_terms,
    mode_problem,
    terms_of,
)
from crm_followup.domain.pipeline import StageVisit, time_in_stages
from crm_followup.handlers.common import PRODUCER, credited, workable_customer
from crm_followup.settings import FollowupSettings


def with_time_in_stages(opportunity: dict[str, Any]) -> dict[str, Any]:
    visits = [StageVisit(entry["stage"], entry["entered_at"]) for entry in opportunity["history"]]
    return {**opportunity, "seconds_in_stages": time_in_stages(visits, datetime.now(UTC))}


def known_modes(lines: Sequence[ServiceLine], settings: FollowupSettings) -> None:
    """422 for a line whose mode the deployment does not list."""
    if (problem := mode_problem(lines, settings.service_modes)) is not None:
        raise Unprocessable(problem)


async def open_opportunity(
    command: OpenOpportunity, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """Opens an opportunity of the customer in the first stage, with its terms."""
    known_modes(command.lines, context.settings)
    owner = credited(context.caller, command.owner_id)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        customer = await workable_customer(uow, command.customer_id, context.caller)
        terms = OpportunityTerms.model_validate(
            {
                **command.model_dump(include=set(TERMS)),
                "owner_id": owner or customer.get("owner_id"),
            }
        )
        return await _open(uow, context, command.customer_id, terms, reopened_from=None)

    return await context.store.run(work)


async def reopen_opportunity(
    command: ReopenOpportunity, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """A lost opportunity comes back as a new one, in the first stage, with its terms."""
    lost_id = command.opportunity_id

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        lost = await stored_opportunity(uow, lost_id)
        await workable_customer(uow, lost["customer_id"], context.caller)
        if lost["status"] != LOST:
            raise Conflict(f"only a lost opportunity is reopened; {lost_id} is {lost['status']}")
        return await _open(uow, context, lost["customer_id"], terms_of(lost), lost_id)

    return await context.store.run(work)


async def stored_opportunity(
    uow: UnitOfWork, opportunity_id: str, customer_id: str | None = None
) -> dict[str, Any]:
    """The opportunity, of `customer_id` where one is given: 404 otherwise."""
    found = await adapters.find(uow, adapters.OPPORTUNITIES, {"_id": opportunity_id})
    if found is None or customer_id not in (None, found["customer_id"]):
        of = f" of customer {customer_id}" if customer_id is not None else ""
        raise NotFound(f"no opportunity {opportunity_id}{of}")
    return found


async def _open(
    uow: UnitOfWork,
    context: Context[FollowupSettings],
    customer_id: str,
    terms: OpportunityTerms,
    reopened_from: str | None,
) -> dict[str, Any]:
    already = await adapters.count(
        uow, adapters.OPPORTUNITIES, {"customer_id": customer_id, "status": "open"}
    )
    if already >= MAX_OPEN_PER_CUSTOMER:
        raise Conflict(
            f"customer {customer_id} has {already} open opportunities, the most it may have: "
            "close some first"
        )
    pipeline = context.settings.pipeline
    at = change_time(None, datetime.now(UTC))
    opportunity = {
        "_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        **terms.model_dump(mode="json"),
        "stage": pipeline.first,
        "status": "open",
        "win_probability": pipeline.probability(pipeline.first),
        "override_reason": None,
        "reopened_from": reopened_from,
        "history": [{"stage": pipeline.first, "entered_at": at, "reason": "opened"}],
        "opened_at": at,
        "changed_at": at,
        "closed_at": None,
        "version": 1,
    }
    await adapters.insert(uow, adapters.OPPORTUNITIES, opportunity)
    uow.emit(
        OpportunityOpened(
            producer=PRODUCER,
            occurred_at=at,
            customer_id=customer_id,
            correlation_id=context.correlation_id,
            payload=OpportunityOpenedPayload(
                **terms.model_dump(),
                opportunity_id=opportunity["_id"],
                stage=pipeline.first,
                win_probability=opportunity["win_probability"],
                reopened_from=reopened_from,
            ),
        )
    )
    return with_time_in_stages(opportunity)


async def move(
    uow: UnitOfWork,
    pipeline: Pipeline,
    opportunity: dict[str, Any],
    step: StageMove,
    cause: tuple[UUID, UUID | None],
    by_the_rules: bool = True,
) -> dict[str, Any]:
    """Moves the opportunity as `step` says and emits StageChanged (correlation and causation ids
    in `cause`). `by_the_rules=False` only for a deal an outside system closed: what happened
    happened, whatever stage it was recorded in."""
    from_stage, to_stage = opportunity["stage"], step.to_stage
    problem = pipeline.move_problem(from_stage, to_stage)
    if problem is not None and (by_the_rules or pipeline.is_final(from_stage)):
        raise Conflict(problem, stage=from_stage)
    at = change_time(opportunity.get("changed_at"), datetime.now(UTC))
    final = pipeline.is_final(to_stage)
    override = None if final else step.override_reason
    probability = pipeline.probability(to_stage)
    if override is not None and step.win_probability is not None:
        probability = step.win_probability
    moved = await adapters.update(
        uow,
        adapters.OPPORTUNITIES,
        {"_id": opportunity["_id"], "version": opportunity.get("version")},
        {
            "$set": {
                "stage": to_stage,
                "win_probability": probability,
                "override_reason": override,
                "status": to_stage if final else "open",
                "closed_at": at if final else None,
                "changed_at": at,
            },
            "$push": {"history": {"stage": to_stage, "entered_at": at, "reason": step.reason}},
            "$inc": {"version": 1},
        },
    )
    if moved is None:
        raise Conflict(f"opportunity {opportunity['_id']} changed meanwhile: read it again")
    entered = opportunity["history"][-1]["entered_at"]
    uow.emit(
        StageChanged(
            producer=PRODUCER,
            occurred_at=at,
            customer_id=opportunity["customer_id"],
            correlation_id=cause[0],
            causation_id=cause[1],
            payload=StageChangedPayload(
                opportunity_id=opportunity["_id"],
                from_stage=from_stage,
                to_stage=to_stage,
                win_probability=probability,
                override_reason=override,
                reason=step.reason,
                seconds_in_previous_stage=max(0.0, (at - entered).total_seconds()),
            ),
        )
    )
    return moved


async def move_stage(command: MoveStage, context: Context[FollowupSettings]) -> dict[str, Any]:
    """A move the pipeline does not allow is a 409 with the reason."""
    if command.to_stage in (WON, LOST):
        raise Conflict(
            f"an opportunity becomes {command.to_stage} by closing its deal: POST /deals"
        )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        opportunity = await stored_opportunity(uow, command.opportunity_id)
        await workable_customer(uow, opportunity["customer_id"], context.caller)
        cause = (context.correlation_id, None)
        return await move(uow, context.settings.pipeline, opportunity, command, cause)

    return with_time_in_stages(await context.store.run(work))


async def change_opportunity(
    command: ChangeOpportunity, context: Context[FollowupSettings]
) -> dict[str, Any]:
    """Changes an open opportunity's terms or probability, with the version read (409 when
    stale); a change that changes nothing records nothing."""
    change, opportunity_id = command.change, command.opportunity_id
    if change.lines is not None:
        known_modes(change.lines, context.settings)
    if "owner_id" in change.model_fields_set:
        credited(context.caller, change.owner_id)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        stored = await stored_opportunity(uow, opportunity_id)
        await workable_customer(uow, stored["customer_id"], context.caller)
        if stored["status"] != "open":
            raise Conflict(
                f"opportunity {opportunity_id} is {stored['status']}: its deal says what was won",
                status=stored["status"],
            )
        if stored.get("version") != command.version:
            raise Conflict(
                f"opportunity {opportunity_id} changed since version {command.version}",
                version=stored.get("version"),
            )
        terms, names = changed_terms(terms_of(stored), change)
        probability, override = stored["win_probability"], stored.get("override_reason")
        if "win_probability" in change.model_fields_set:
            override = change.override_reason
            default = context.settings.pipeline.probability(stored["stage"])
            probability = default if override is None else change.win_probability
            if (probability, override) != (
                stored["win_probability"],
                stored.get("override_reason"),
            ):
                names.append("win_probability")
        if not names:
            return stored
        at = change_time(stored.get("changed_at"), datetime.now(UTC))
        updated = await adapters.update(
            uow,
            adapters.OPPORTUNITIES,
            {"_id": opportunity_id, "version": command.version},
            {
                "$set": {
                    **terms.model_dump(mode="json"),
                    "win_probability": probability,
                    "override_reason": override,
                    "changed_at": at,
                },
                "$inc": {"version": 1},
            },
        )
        if updated is None:
            raise Conflict(f"opportunity {opportunity_id} changed meanwhile: read it again")
        uow.emit(
            OpportunityUpdated(
                producer=PRODUCER,
                occurred_at=at,
                customer_id=stored["customer_id"],
                correlation_id=context.correlation_id,
                payload=OpportunityUpdatedPayload(
                    opportunity_id=opportunity_id,
                    changed=names,
                    terms=terms,
                    win_probability=probability,
                    override_reason=override,
                ),
            )
        )
        return updated

    return with_time_in_stages(await context.store.run(work))
