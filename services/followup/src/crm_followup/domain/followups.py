"""Follow-ups: the commands and their checks. Pure: no I/O."""

import uuid
from datetime import date
from typing import Annotated

from crm_contracts import Channel, SiteObservations, VisitFacts, VisitLoggedPayload
from crm_contracts.common import Id, Text
from crm_contracts.envelope import CustomerId
from crm_runtime.handlers import Command, Instant, Patch
from pydantic import Field


class LogFollowup(VisitFacts, Command):
    """A follow-up to record, checked by the contract's own rules; its id is given here. Left
    out, `salesperson_id` credits the salesperson who logs it."""

    customer_id: CustomerId
    salesperson_id: Id | None = None  # type: ignore[assignment]  # widened: left out, the caller
    started_at: Instant
    ended_at: Instant


class FollowupChange(Patch):
    """The fields to change (null clears an optional one), with the version read unless it comes
    in If-Match. The follow-up is checked as a whole once changed (end not before start…)."""

    nullable = frozenset({"outcome", "stage", "contact_ids", "next_step", "next_step_due", "site"})
    channel: Channel | None = None
    subject: Text | None = None
    started_at: Instant | None = None
    ended_at: Instant | None = None
    outcome: Annotated[str, Field(max_length=2000)] | None = None
    stage: Text | None = None
    contact_ids: list[Id] | None = None
    next_step: Text | None = None
    next_step_due: date | None = None
    site: SiteObservations | None = None
    version: int | None = Field(default=None, ge=1)


class ChangeFollowup(Command):
    followup_id: Id
    version: int = Field(ge=1)
    change: FollowupChange


class RevokeFollowup(Command):
    followup_id: Id
    reason: Text


def new_followup(command: LogFollowup, salesperson_id: str) -> VisitLoggedPayload:
    return VisitLoggedPayload(
        **command.model_dump(exclude={"customer_id", "salesperson_id"}),
        salesperson_id=salesperson_id,
        followup_id=str(uuid.uuid4()),
    )


def changed(
    current: VisitLoggedPayload, change: FollowupChange
) -> tuple[VisitLoggedPayload, list[str]]:
    """The follow-up after the change (validated as a whole: end not before start…) and what
    changed."""
    wanted = change.model_dump(include=change.model_fields_set - {"version"})
    if "contact_ids" in wanted and wanted["contact_ids"] is None:
        wanted["contact_ids"] = []  # cleared: nobody recorded as present
    after = VisitLoggedPayload.model_validate({**current.model_dump(), **wanted})
    names = sorted(name for name in wanted if getattr(after, name) != getattr(current, name))
    return after, names
