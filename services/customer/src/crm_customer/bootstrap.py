"""Wires the customer service from settings: the one place its dependencies are chosen."""

from crm_customer import adapters
from crm_customer.entrypoints import router
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    service_name: str = "customer"
    http_port: int = 8001


def bootstrap(settings: ServiceSettings | None = None) -> Service:
    spec = ServiceSpec(title="CRM customer service", routers=[router], create_indexes=adapters.create_indexes)
    return Service(spec, settings or CustomerSettings())
