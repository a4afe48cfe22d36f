"""Follow-ups: the commands and their checks. Pure: no I/O."""

import uuid
from datetime import date
from typing import Annotated

from crm_contracts import Channel, SiteObservations, VisitFacts, VisitLoggedPayload
from crm_contracts.common import Id, Text
from crm_contracts.envelope import CustomerId
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

STRICT = ConfigDict(frozen=True, extra="forbid")


class LogFollowup(VisitFacts):
    """A follow-up to record, checked by the contract's own rules; its id is given here."""

    model_config = STRICT
    customer_id: CustomerId


class ChangeFollowup(BaseModel):
    """The fields to change (null clears an optional one), with the version read unless it comes
    in If-Match. The follow-up is checked as a whole once changed (end not before start…)."""

    model_config = STRICT
    channel: Channel | None = None
    subject: Text | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    outcome: Annotated[str, Field(max_length=2000)] | None = None
    stage: Text | None = None
    contact_ids: list[Id] | None = None
    next_step: Text | None = None
    next_step_due: date | None = None
    site: SiteObservations | None = None
    version: int | None = Field(default=None, ge=1)


def new_followup(command: LogFollowup) -> VisitLoggedPayload:
    return VisitLoggedPayload(
        **command.model_dump(exclude={"customer_id"}), followup_id=str(uuid.uuid4())
    )


def changed(
    current: VisitLoggedPayload, command: ChangeFollowup
) -> tuple[VisitLoggedPayload, list[str]]:
    """The follow-up after the change (validated as a whole: end not before start…) and what
    changed."""
    wanted = command.model_dump(include=command.model_fields_set - {"version"})
    if "contact_ids" in wanted and wanted["contact_ids"] is None:
        wanted["contact_ids"] = []  # cleared: nobody recorded as present
    after = VisitLoggedPayload.model_validate({**current.model_dump(), **wanted})
    names = sorted(name for name in wanted if getattr(after, name) != getattr(current, name))
    return after, names
