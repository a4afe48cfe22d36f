"""Wires the scoring service from settings."""

from crm_contracts.topics import CUSTOMER_EVENTS, FOLLOWUP_EVENTS
from crm_runtime.service import Service, ServiceSpec

from crm_scoring import adapters
from crm_scoring.entrypoints import router
from crm_scoring.handlers import EVENT_HANDLERS
from crm_scoring.settings import ScoringSettings


def bootstrap(settings: ScoringSettings | None = None) -> Service:
    settings = settings or ScoringSettings()
    spec = ServiceSpec(
        title="CRM scoring service",
        routers=[router],
        subscribes_to=[CUSTOMER_EVENTS, FOLLOWUP_EVENTS],
        handlers=EVENT_HANDLERS,
        dependencies={"model_version": settings.model_version},
        create_indexes=adapters.create_indexes,
    )
    return Service(spec, settings)
