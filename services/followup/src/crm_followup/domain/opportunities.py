"""Opportunities: the commands that open, change and move them through the pipeline
(crm_runtime.pipeline), and the rules about their terms, lines and probability. Pure: no I/O."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Self

from crm_contracts import LinePrice, OpportunityTerms, ServiceLine
from crm_contracts.common import Id, Money, Text
from crm_contracts.envelope import CustomerId
from crm_contracts.opportunity_events import Currency, Lines, distinct_lines
from crm_runtime.handlers import Command, Patch
from pydantic import Field, field_validator, model_validator

# Open at once per customer: a shipper worked lane by lane has a handful; a cap keeps the
# customer's documents and events small whatever a script does.
MAX_OPEN_PER_CUSTOMER = 50
Probability = Annotated[float, Field(ge=0, le=1)]
TERMS = tuple(OpportunityTerms.model_fields)


class NewOpportunity(OpportunityTerms, Command):
    """What an opportunity is opened with; all optional. Left out, `owner_id` is the customer's
    owner (a salesperson may name only themselves)."""


class OpenOpportunity(NewOpportunity):
    customer_id: CustomerId


class ReopenOpportunity(Command):
    """A lost opportunity comes back as a new one, with its terms."""

    opportunity_id: Id


class ProbabilityOverride(Command):
    """The owner's own win probability instead of the stage's, with the reason. Both or none."""

    win_probability: Probability | None = None
    override_reason: Text | None = None

    @model_validator(mode="after")
    def _with_its_reason(self) -> Self:
        if (self.win_probability is None) != (self.override_reason is None):
            raise ValueError("win_probability and override_reason go together")
        return self


class StageMove(ProbabilityOverride):
    """A move; the owner's override, if any, lasts until the stage changes, unless the move
    carries one of its own."""

    to_stage: Text
    reason: Text | None = None


class MoveStage(StageMove):
    opportunity_id: Id


class OpportunityChange(Patch):
    """The terms to change (null clears an optional one; `lines` replaces the list), and the
    probability: a number with its `override_reason` overrides the stage's, null returns to it.
    With the version read, unless it comes in If-Match."""

    nullable = frozenset(
        {"title", "amount", "currency", "expected_close_date", "win_probability", "override_reason"}
    )
    title: Text | None = None
    amount: Money | None = None
    currency: Currency | None = None
    expected_close_date: date | None = None
    owner_id: Id | None = None
    lines: Lines | None = None
    win_probability: Probability | None = None
    override_reason: Text | None = None
    version: int | None = Field(default=None, ge=1)

    @field_validator("lines")
    @classmethod
    def _distinct(cls, lines: list[ServiceLine] | None) -> list[ServiceLine] | None:
        return None if lines is None else distinct_lines(lines)

    @model_validator(mode="after")
    def _override_with_its_reason(self) -> Self:
        sent = self.model_fields_set
        if ("win_probability" in sent) != ("override_reason" in sent):
            raise ValueError("win_probability and override_reason change together")
        if (self.win_probability is None) != (self.override_reason is None):
            raise ValueError("an override needs its reason; null both to return to the stage's")
        return self


class ChangeOpportunity(Command):
    opportunity_id: Id
    version: int = Field(ge=1)
    change: OpportunityChange


def terms_of(opportunity: dict[str, Any]) -> OpportunityTerms:
    """The terms of a stored opportunity (one opened before terms existed has none)."""
    stored = {name: opportunity.get(name) for name in TERMS}
    return OpportunityTerms.model_validate({**stored, "lines": stored["lines"] or []})


def changed_terms(
    current: OpportunityTerms, change: OpportunityChange
) -> tuple[OpportunityTerms, list[str]]:
    """The terms after the change, checked as a whole (an amount keeps its currency), and the
    names of the terms that changed."""
    wanted = change.model_dump(include=change.model_fields_set & set(TERMS))
    after = OpportunityTerms.model_validate({**current.model_dump(), **wanted})
    return after, [name for name in TERMS if getattr(after, name) != getattr(current, name)]


def mode_problem(lines: Sequence[ServiceLine], modes: Sequence[str]) -> str | None:
    """Why a line's mode is refused: the deployment's list (CRM_SERVICE_MODES) names them."""
    unknown = sorted({line.mode for line in lines} - set(modes))
    if not unknown:
        return None
    return f"no mode {', '.join(unknown)}: the modes are {', '.join(modes)}"


def pricing_problem(prices: Sequence[LinePrice], lines: Sequence[ServiceLine]) -> str | None:
    """A proposal prices lines of its opportunity, named by id."""
    unknown = sorted({price.line_id for price in prices} - {line.line_id for line in lines})
    if not unknown:
        return None
    return f"the opportunity has no line {', '.join(unknown)}"


def priced(lines: Sequence[ServiceLine], prices: Sequence[LinePrice]) -> list[ServiceLine]:
    """The lines at the rates a proposal gave them (the others as they were)."""
    rate_of = {price.line_id: price for price in prices}
    return [
        line.model_copy(update={"rate": rate.rate, "rate_basis": rate.rate_basis})
        if (rate := rate_of.get(line.line_id))
        else line
        for line in lines
    ]


def closing_choice(open_ids: Sequence[str]) -> tuple[str | None, str | None]:
    """The open opportunity a deal that names none closes, or why it must name one: with one open
    it is that one; with none the deal stands alone (as a deal from the ERP may)."""
    if len(open_ids) <= 1:
        return (open_ids[0] if open_ids else None), None
    return None, f"the customer has {len(open_ids)} open opportunities: name opportunity_id"


def change_time(previous: datetime | None, now: datetime) -> datetime:
    """When a change to an opportunity happens: now, but always after its previous change, to
    the millisecond MongoDB keeps. Consumers take an opportunity's latest state by this time, so
    it follows the order of the changes even when two instances' clocks disagree."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if previous is None:
        return now
    return max(now, previous.replace(microsecond=previous.microsecond // 1000 * 1000) + _MS)


_MS = timedelta(milliseconds=1)
