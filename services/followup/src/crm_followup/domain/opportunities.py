"""Opportunities: the commands that move them through the pipeline (crm_runtime.pipeline)."""

from crm_contracts.common import Id, Text
from crm_contracts.envelope import CustomerId
from crm_runtime.handlers import Command


class OpenOpportunity(Command):
    customer_id: CustomerId


class ReopenOpportunity(Command):
    """A lost opportunity comes back as a new one."""

    opportunity_id: Id


class MoveStage(Command):
    opportunity_id: Id
    to_stage: Text
    reason: Text | None = None
