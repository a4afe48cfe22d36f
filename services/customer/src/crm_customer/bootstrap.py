"""Wires the customer service from settings: the one place its dependencies are chosen."""

from uuid import uuid4

from crm_contracts.topics import SCORING_EVENTS
from crm_runtime.handlers import Context
from crm_runtime.service import Service, ServiceSpec

from crm_customer import adapters
from crm_customer.entrypoints import customers, details, people, quotas
from crm_customer.handlers import EVENT_HANDLERS
from crm_customer.handlers.users import ensure_first_admin
from crm_customer.settings import CustomerSettings


def bootstrap(settings: CustomerSettings | None = None) -> Service:
    settings = settings or CustomerSettings()

    async def on_start(service: Service) -> None:
        await ensure_first_admin(Context(service.store, settings, uuid4()))

    spec = ServiceSpec(
        title="CRM customer service",
        routers=[people.router, customers.router, details.router, quotas.router],
        subscribes_to=[SCORING_EVENTS],
        handlers=EVENT_HANDLERS,
        dependencies={"reassign_on_tier_up": settings.reassign_on_tier_up},
        create_indexes=adapters.create_indexes,
        on_start=on_start,
    )
    return Service(spec, settings)
