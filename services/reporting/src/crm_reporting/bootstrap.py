"""Wires the reporting service from settings."""

import structlog
from crm_contracts import ALL_TOPICS
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings

from crm_reporting import adapters, counters
from crm_reporting.entrypoints import router
from crm_reporting.handlers import EVENT_HANDLERS
from crm_reporting.reports import router as reports
from crm_reporting.settings import ReportingSettings

log = structlog.get_logger(__name__)


async def _migrate(service: Service) -> None:
    await adapters.give_old_facts_their_account(service.store)
    await adapters.drop_old_counting(service.store)
    if noted := await counters.recount_all(service.store):  # read models kept before counters
        log.info(
            "accounts noted for the reports' counters, counted in the background", accounts=noted
        )


def _upkeep(service: Service) -> counters.Upkeep:
    return counters.Upkeep(service.store)


def spec() -> ServiceSpec:
    """The reporting service's parts; the rebuild replays the topics through the same ones."""
    return ServiceSpec(
        title="CRM reporting service",
        routers=[router, reports],
        subscribes_to=list(ALL_TOPICS),
        handlers=EVENT_HANDLERS,
        create_indexes=adapters.create_indexes,
        on_start=_migrate,
        workers=[_upkeep],
    )


def bootstrap(settings: ServiceSettings | None = None) -> Service:
    return Service(spec(), settings or ReportingSettings())
