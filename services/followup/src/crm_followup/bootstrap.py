"""Wires the follow-up service from settings."""

from crm_contracts import CustomerCreated
from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from pydantic import Field

from crm_followup import adapters
from crm_followup.domain.pipeline import DEFAULT_PIPELINE, Pipeline
from crm_followup.entrypoints import router
from crm_followup.handlers import Conflict, NotFound, NotYours, UnknownCustomer, VersionRequired
from crm_followup.handlers.learned import HANDLERS


class FollowupSettings(ServiceSettings):
    service_name: str = "followup"
    http_port: int = 8002
    pipeline: Pipeline = Field(
        default=DEFAULT_PIPELINE,
        description="Stages as JSON in CRM_PIPELINE: "
        '{"stages": [{"name": "qualified", "win_probability": 0.1}, ...]}',
    )


def bootstrap(settings: FollowupSettings | None = None) -> Service:
    spec = ServiceSpec(
        title="CRM follow-up service",
        routers=[router],
        subscribes_to=[CUSTOMER_EVENTS, FOLLOWUP_EVENTS],
        handlers=HANDLERS,
        releases_on=[CustomerCreated],
        create_indexes=adapters.create_indexes,
        errors={
            NotFound: 404,
            UnknownCustomer: 422,
            Conflict: 409,
            NotYours: 403,
            VersionRequired: 428,
        },
    )
    return Service(spec, settings or FollowupSettings())
