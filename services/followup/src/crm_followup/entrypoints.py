"""HTTP doors of the follow-up service: follow-ups, pipeline, proposals, deals. Each parses,
authorises, calls a command handler or a query, and answers."""

from typing import Annotated, Any, Literal

from crm_contracts.common import Channel, Text
from crm_runtime.auth import Role
from crm_runtime.handlers import Command, Instant
from crm_runtime.http import IfMatch, StaffContext, errors, public, version_read
from crm_runtime.pagination import Cursor, Limit
from fastapi import APIRouter, Body, Query, Response, status

from crm_followup import adapters
from crm_followup.domain.deals import LOST_REASONS, CloseDeal
from crm_followup.domain.followups import (
    ChangeFollowup,
    FollowupChange,
    LogFollowup,
    RevokeFollowup,
)
from crm_followup.domain.opportunities import (
    ChangeOpportunity,
    MoveStage,
    NewOpportunity,
    OpenOpportunity,
    OpportunityChange,
    ReopenOpportunity,
    StageMove,
)
from crm_followup.domain.proposals import (
    DecideProposal,
    Decision,
    ProposalRevision,
    ReviseProposal,
    WriteProposal,
)
from crm_followup.handlers import deals, followups, pipeline, proposals
from crm_followup.handlers.common import readable, readable_customer

router = APIRouter()


class Why(Command):
    reason: Text


class MaybeWhy(Command):
    reason: Text | None = None


# --- follow-ups -----------------------------------------------------------------------------------


@router.post(
    "/followups",
    status_code=status.HTTP_201_CREATED,
    tags=["follow-ups"],
    responses=errors(409, 422),
)
async def log_followup(command: LogFollowup, context: StaffContext) -> dict[str, Any]:
    """A visit, call, meeting, e-mail or other activity, credited to `salesperson_id` (a
    salesperson credits only themselves, and is credited when it is left out). 422 for a customer
    not known here, 409 for an archived one, 403 for another salesperson's."""
    return public(await followups.log_followup(command, context))


@router.get("/followups", tags=["follow-ups"], responses=errors(422))
async def search_followups(
    context: StaffContext,
    limit: Limit = 50,
    cursor: Cursor = None,
    customer_id: str | None = None,
    salesperson_id: str | None = None,
    channel: Channel | None = None,
    since: Annotated[Instant | None, Query(description="Started at or after.")] = None,
    until: Annotated[Instant | None, Query(description="Started before.")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Text in subject, outcome or next step.")
    ] = None,
    include_revoked: bool = False,
) -> dict[str, Any]:
    """Newest first. A salesperson finds only their own follow-ups."""
    caller = context.caller
    if caller is not None and caller.role is Role.SALESPERSON:
        salesperson_id = caller.salesperson_id or "-"
    search = adapters.FollowupSearch(
        customer_id, salesperson_id, channel, since, until, q, include_revoked
    )
    found = await adapters.search_followups(context.store, search, cursor, limit)
    return {**found, "items": [public(item) for item in found["items"]]}


@router.get("/followups/{followup_id}", tags=["follow-ups"], responses=errors(404))
async def get_followup(
    followup_id: str, context: StaffContext, response: Response
) -> dict[str, Any]:
    item = await readable(context.store, adapters.FOLLOWUPS, followup_id, context.caller)
    response.headers["ETag"] = f'"{item["version"]}"'
    return public(item)


@router.patch("/followups/{followup_id}", tags=["follow-ups"], responses=errors(404, 409, 422, 428))
async def change_followup(
    followup_id: str, change: FollowupChange, context: StaffContext, if_match: IfMatch = None
) -> dict[str, Any]:
    """Null clears an optional field; a required one (channel, subject, times) cannot be null."""
    version = version_read(if_match, change.version)
    command = ChangeFollowup(followup_id=followup_id, version=version, change=change)
    return public(await followups.change_followup(command, context))


@router.post(
    "/followups/{followup_id}/revoke", tags=["follow-ups"], responses=errors(404, 409, 422)
)
async def revoke_followup(followup_id: str, why: Why, context: StaffContext) -> dict[str, Any]:
    """Revoked, never deleted: it leaves searches unless include_revoked."""
    command = RevokeFollowup(followup_id=followup_id, reason=why.reason)
    return public(await followups.revoke_followup(command, context))


# --- pipeline -------------------------------------------------------------------------------------


@router.get("/pipeline", tags=["pipeline"], responses=errors())
async def stages(context: StaffContext) -> dict[str, Any]:
    """The configured stages with their default win probabilities (won and lost follow, final),
    and the modes a service line may have."""
    settings = context.settings
    return {
        **settings.pipeline.model_dump(),
        "final": ["won", "lost"],
        "modes": list(settings.service_modes),
    }


@router.post(
    "/customers/{customer_id}/opportunities",
    status_code=status.HTTP_201_CREATED,
    tags=["pipeline"],
    responses=errors(409, 422),
)
async def open_opportunity(
    customer_id: str,
    context: StaffContext,
    terms: Annotated[NewOpportunity | None, Body()] = None,
) -> dict[str, Any]:
    """Opens an opportunity of the customer in the first stage, with its terms (all optional:
    amount and currency, expected close date, service lines, owner). A customer may have several
    open, up to 50 (409 above); a line whose mode is not configured is a 422."""
    given = terms.model_dump(exclude_unset=True) if terms else {}
    command = OpenOpportunity(customer_id=customer_id, **given)
    return public(await pipeline.open_opportunity(command, context))


@router.get("/customers/{customer_id}/opportunities", tags=["pipeline"], responses=errors())
async def opportunities_of(
    customer_id: str, context: StaffContext, status: Literal["open", "won", "lost"] | None = None
) -> list[dict[str, Any]]:
    """Newest first; `status` keeps those open, won or lost."""
    await readable_customer(context.store, customer_id, context.caller)
    found = await adapters.of_customer(
        context.store, adapters.OPPORTUNITIES, customer_id, status=status
    )
    return [public(pipeline.with_time_in_stages(item)) for item in found]


@router.get("/opportunities/{opportunity_id}", tags=["pipeline"], responses=errors(404))
async def get_opportunity(
    opportunity_id: str, context: StaffContext, response: Response
) -> dict[str, Any]:
    """With its stage history and the seconds spent in each stage."""
    item = await readable(context.store, adapters.OPPORTUNITIES, opportunity_id, context.caller)
    response.headers["ETag"] = f'"{item.get("version")}"'
    return public(pipeline.with_time_in_stages(item))


@router.patch(
    "/opportunities/{opportunity_id}", tags=["pipeline"], responses=errors(404, 409, 422, 428)
)
async def change_opportunity(
    opportunity_id: str, change: OpportunityChange, context: StaffContext, if_match: IfMatch = None
) -> dict[str, Any]:
    """Changes an open opportunity's terms (null clears an optional one; `lines` replaces them
    all) or its win probability: a number with `override_reason` overrides the stage's until the
    stage changes, null for both returns to the stage's."""
    version = version_read(if_match, change.version)
    command = ChangeOpportunity(opportunity_id=opportunity_id, version=version, change=change)
    return public(await pipeline.change_opportunity(command, context))


@router.post(
    "/opportunities/{opportunity_id}/stage", tags=["pipeline"], responses=errors(404, 409, 422)
)
async def move_stage(opportunity_id: str, move: StageMove, context: StaffContext) -> dict[str, Any]:
    """A move the pipeline does not allow is a 409 with the reason. The owner may give their own
    `win_probability` with an `override_reason`; otherwise the new stage's applies."""
    command = MoveStage(opportunity_id=opportunity_id, **move.model_dump(exclude_unset=True))
    return public(await pipeline.move_stage(command, context))


@router.post(
    "/opportunities/{opportunity_id}/reopen",
    status_code=status.HTTP_201_CREATED,
    tags=["pipeline"],
    responses=errors(404, 409, 422),
)
async def reopen(opportunity_id: str, context: StaffContext) -> dict[str, Any]:
    """A lost opportunity comes back as a new one, in the first stage."""
    command = ReopenOpportunity(opportunity_id=opportunity_id)
    return public(await pipeline.reopen_opportunity(command, context))


# --- proposals ------------------------------------------------------------------------------------


@router.post(
    "/proposals",
    status_code=status.HTTP_201_CREATED,
    tags=["proposals"],
    responses=errors(404, 409, 422),
)
async def write_proposal(command: WriteProposal, context: StaffContext) -> dict[str, Any]:
    return public(await proposals.write_proposal(command, context))


@router.get("/proposals/{proposal_id}", tags=["proposals"], responses=errors(404))
async def get_proposal(proposal_id: str, context: StaffContext) -> dict[str, Any]:
    """With every revision, numbered."""
    return public(await readable(context.store, adapters.PROPOSALS, proposal_id, context.caller))


@router.get("/customers/{customer_id}/proposals", tags=["proposals"], responses=errors())
async def proposals_of(customer_id: str, context: StaffContext) -> list[dict[str, Any]]:
    await readable_customer(context.store, customer_id, context.caller)
    found = await adapters.of_customer(context.store, adapters.PROPOSALS, customer_id)
    return [public(item) for item in found]


@router.post(
    "/proposals/{proposal_id}/revisions", tags=["proposals"], responses=errors(404, 409, 422)
)
async def revise_proposal(
    proposal_id: str, revision: ProposalRevision, context: StaffContext
) -> dict[str, Any]:
    command = ReviseProposal(proposal_id=proposal_id, revision=revision)
    return public(await proposals.revise_proposal(command, context))


@router.post(
    "/proposals/{proposal_id}/{decision}", tags=["proposals"], responses=errors(404, 409, 422)
)
async def decide_proposal(
    proposal_id: str, decision: Decision, why: MaybeWhy, context: StaffContext
) -> dict[str, Any]:
    """Withdrawn, accepted or rejected: final."""
    command = DecideProposal(proposal_id=proposal_id, decision=decision, reason=why.reason)
    return public(await proposals.decide_proposal(command, context))


# --- deals ----------------------------------------------------------------------------------------


@router.post(
    "/deals",
    status_code=status.HTTP_201_CREATED,
    tags=["deals"],
    responses=errors(404, 409, 422),
    description="Won (amount, currency, product lines, freight volume, contract period) or lost (a "
    f"reason from the catalogue: {', '.join(LOST_REASONS)}; the competitor, if known). Closes the "
    "opportunity named by `opportunity_id`, or the customer's only open one (422 when it has "
    "several and none is named); 409 when its stage does not allow winning. Won without `lines`, "
    "the deal wins the opportunity's lines at its accepted proposal's rates. Credited to "
    "`salesperson_id`: a salesperson credits only themselves, and is credited when it is left out.",
)
async def close_deal(command: CloseDeal, context: StaffContext) -> dict[str, Any]:
    return public(await deals.close_deal(command, context))


@router.get("/customers/{customer_id}/deals", tags=["deals"], responses=errors())
async def deals_of(customer_id: str, context: StaffContext) -> list[dict[str, Any]]:
    await readable_customer(context.store, customer_id, context.caller)
    found = await adapters.of_customer(context.store, adapters.DEALS, customer_id)
    return [public(item) for item in found]
