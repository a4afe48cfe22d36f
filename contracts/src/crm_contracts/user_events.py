"""Events about user accounts, on their own topic. The envelope's customer_id field carries the
user's id there (the topic's key). They carry no password, no hash and no token."""

from typing import Literal

from pydantic import Field

from crm_contracts.common import Id
from crm_contracts.envelope import Event, Payload


class UserAccessChangedPayload(Payload):
    user_id: Id
    access_version: int = Field(
        ge=1,
        description="Raised whenever what the user may do changes (deactivated, role, "
        "salesperson); "
        "a login token carries the version it was issued at, and every service refuses tokens "
        "older than the latest version it has seen.",
    )
    active: bool
    role: Literal["admin", "manager", "salesperson", "ops"]
    salesperson_id: Id | None = None


class UserAccessChanged(Event):
    event_type: Literal["UserAccessChanged"] = "UserAccessChanged"
    schema_version: Literal[1] = 1
    payload: UserAccessChangedPayload
