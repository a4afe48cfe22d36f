"""Teams and quotas as the customer service publishes them, for tests in several folders."""

from datetime import datetime

from crm_contracts import (
    QuotaPayload,
    QuotaSet,
    SalespersonPayload,
    SalespersonRegistered,
)
from crm_contracts.salesperson_events import quota_key


def in_team(person: str, team: str | None, at: datetime | None = None) -> SalespersonRegistered:
    """A salesperson registered in `team`."""
    return SalespersonRegistered(
        producer="customer",
        customer_id=person,
        **({"occurred_at": at} if at else {}),
        payload=SalespersonPayload(
            salesperson_id=person, name=person, capacity=9, seniority=2, team=team
        ),
    )


def quota_set(
    target: str,
    target_id: str,
    period: str,
    revenue: str | None,
    freight_tons: float | None = None,
    version: int = 1,
    at: datetime | None = None,
) -> QuotaSet:
    """A target's quota for `period` in CNY, as its `version`th change set it."""
    return QuotaSet(
        producer="customer",
        customer_id=quota_key(target, target_id),
        **({"occurred_at": at} if at else {}),
        payload=QuotaPayload(
            target=target,
            target_id=target_id,
            period=period,
            revenue=revenue,
            currency="CNY" if revenue else None,
            freight_tons=freight_tons,
            version=version,
        ),
    )
