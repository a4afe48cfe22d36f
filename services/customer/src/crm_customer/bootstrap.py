"""Wires the customer service from settings: the one place its dependencies are chosen."""

from crm_contracts import CustomerScored
from crm_contracts.topics import SCORING_EVENTS
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from pydantic import Field, SecretStr

from crm_customer import adapters
from crm_customer.entrypoints import customers, details, people
from crm_customer.handlers import Conflict, NotFound, VersionRequired
from crm_customer.handlers.assignment import on_customer_scored
from crm_customer.handlers.users import LoginLocked, LoginRefused, ensure_first_admin


class CustomerSettings(ServiceSettings):
    service_name: str = "customer"
    http_port: int = 8001
    admin_username: str | None = Field(
        default=None, description="The first admin, made at start-up if missing."
    )
    admin_password: SecretStr | None = None
    reassign_on_tier_up: bool = Field(
        default=True, description="Run the rule again when scoring raises the tier."
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins in 15 min before a 15 min lock."
    )


def bootstrap(settings: CustomerSettings | None = None) -> Service:
    settings = settings or CustomerSettings()

    async def on_start(service: Service) -> None:
        await ensure_first_admin(service.store, settings.admin_username, settings.admin_password)

    spec = ServiceSpec(
        title="CRM customer service",
        routers=[people.router, customers.router, details.router],
        subscribes_to=[SCORING_EVENTS],
        handlers={CustomerScored: on_customer_scored(settings.reassign_on_tier_up)},
        create_indexes=adapters.create_indexes,
        on_start=on_start,
        errors={
            NotFound: 404,
            Conflict: 409,
            VersionRequired: 428,
            LoginRefused: 401,
            LoginLocked: 429,
        },
    )
    return Service(spec, settings)
