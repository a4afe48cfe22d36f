"""Quotas: the revenue and freight a salesperson or a team is to win in a year, quarter or month.
Each change sets the whole target and is a new version; every version is kept. Pure: no I/O."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from crm_contracts import QuotaPayload, QuotaSet
from crm_contracts.common import FreightTons, Id, Money, Text
from crm_contracts.opportunity_events import Currency
from crm_contracts.salesperson_events import Team, quota_key
from crm_runtime.auth import Principal, Role, forbidden_unless
from crm_runtime.errors import Conflict, VersionRequired
from crm_runtime.handlers import Command
from crm_runtime.periods import months_of
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError, model_validator

from crm_customer.domain.customers import PRODUCER

Target = Literal["salesperson", "team"]
_TEAM_CODE: TypeAdapter[str] = TypeAdapter(Team)


def checked_period(period: str) -> str:
    """The period, if the calendar has it; a ValueError naming the forms a period takes."""
    months_of(period)
    return period


Period = Annotated[str, AfterValidator(checked_period)]


class QuotaTarget(Command):
    """The whole target for the period: what is left out is no target. Revenue goes with its
    currency; revenue and freight both null means no target any more. `version` is the version
    read, unless it comes in If-Match; none to set a quota for the first time."""

    revenue: Money | None = None
    currency: Currency | None = None
    freight_tons: FreightTons | None = Field(
        default=None, description="Monthly tons contracted by the deals won in the period."
    )
    reason: Text | None = None
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _revenue_has_its_currency(self) -> "QuotaTarget":
        if (self.revenue is None) != (self.currency is None):
            raise ValueError("revenue and currency go together")
        return self


class SetQuota(QuotaTarget):
    target: Target
    target_id: Id
    period: Period

    @model_validator(mode="after")
    def _a_team_is_named_by_its_code(self) -> "SetQuota":
        if self.target == "team":
            try:
                _TEAM_CODE.validate_python(self.target_id)
            except ValidationError:
                raise ValueError(
                    "a team's code is 1 to 40 letters, digits, '_', '.' or '-'"
                ) from None
        return self


def quota_id(target: str, target_id: str, period: str) -> str:
    """One quota per target and period; the target comes first, so a salesperson whose id looks
    like a team's key never shares a team's quota."""
    return f"{target}:{target_id}:{period}"


def described(target: str, target_id: str, period: str) -> str:
    return f"the quota of {target} {target_id} for {period}"


def next_version(what: str, current: int | None, read: int | None) -> int:
    """The version a change makes: 1 the first time, without a version read; then only a change
    based on the current version (428 without one, 409 naming the current one when stale)."""
    if current is None:
        if read is not None:
            raise Conflict(f"{what} was never set: send no version to set it", version=None)
        return 1
    if read is None:
        raise VersionRequired(
            f"{what} is at version {current}: send the version you read, in If-Match or as "
            "`version`",
            version=current,
        )
    if read != current:
        raise Conflict(f"{what} changed since version {read}: it is at {current}", version=current)
    return current + 1


def version_of(command: SetQuota, version: int, set_by: str | None, at: datetime) -> dict[str, Any]:
    """One version as stored: the quota's current fields, and an entry of its history."""
    values = command.model_dump(mode="json", include={"revenue", "currency", "freight_tons"})
    return {"version": version, **values, "reason": command.reason, "set_by": set_by, "set_at": at}


def new_quota(command: SetQuota, first: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": quota_id(command.target, command.target_id, command.period),
        "target": command.target,
        "target_id": command.target_id,
        "period": command.period,
        **first,
        "history": [first],
    }


def quota_set(command: SetQuota, version: dict[str, Any], correlation_id: UUID) -> QuotaSet:
    return QuotaSet(
        producer=PRODUCER,
        customer_id=quota_key(command.target, command.target_id),
        occurred_at=version["set_at"],
        correlation_id=correlation_id,
        payload=QuotaPayload(
            **command.model_dump(exclude={"version"}),
            version=version["version"],
            set_by=version["set_by"],
        ),
    )


def readable(caller: Principal | None, target: str, target_id: str) -> bool:
    """Managers, admins and ops read every quota; a salesperson only their own."""
    if caller is None or caller.role is not Role.SALESPERSON:
        return True
    own = caller.salesperson_id
    return own is not None and (target, target_id) == ("salesperson", own)


def list_filters(
    caller: Principal | None, target: str | None, target_id: str | None
) -> tuple[str | None, str | None]:
    """The filters of a list of quotas as the caller may have them: a salesperson lists their
    own (403 when the filters name anyone else's)."""
    if caller is None or caller.role is not Role.SALESPERSON:
        return target, target_id
    own = caller.salesperson_id or ""
    forbidden_unless(
        readable(caller, target or "salesperson", target_id or own), "other people's quotas"
    )
    return "salesperson", own
