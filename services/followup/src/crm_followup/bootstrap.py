"""Wires the follow-up service from settings."""

from crm_contracts import CustomerCreated
from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.service import Service, ServiceSpec

from crm_followup import adapters
from crm_followup.entrypoints import router
from crm_followup.handlers import EVENT_HANDLERS
from crm_followup.settings import FollowupSettings


def bootstrap(settings: FollowupSettings | None = None) -> Service:
    settings = settings or FollowupSettings()
    spec = ServiceSpec(
        title="CRM follow-up service",
        routers=[router],
        subscribes_to=[CUSTOMER_EVENTS, FOLLOWUP_EVENTS],
        handlers=EVENT_HANDLERS,
        dependencies={"pipeline": settings.pipeline},
        releases_on=[CustomerCreated],
        create_indexes=adapters.create_indexes,
    )
    return Service(spec, settings)
