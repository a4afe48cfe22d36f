"""The customer service's settings: the shared ones, plus the first admin and the login throttle."""

from crm_runtime.settings import ServiceSettings
from pydantic import Field, SecretStr


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
