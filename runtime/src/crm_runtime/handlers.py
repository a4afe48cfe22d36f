"""The one handler shape of every service (after cosmicpython's message bus).

- An event handler is `async def on_thing(event: Thing, uow: UnitOfWork, **dependencies) -> None`.
  Each service declares its handlers in one place, `EVENT_HANDLERS: {Thing: [on_thing, ...]}`;
  `bootstrap()` names the dependencies (settings values, the model version...) and `wire` injects
  them by parameter name. The consumer calls every handler of an event in one transaction.
- A command handler is `async def do_thing(command: DoThing, context: Context[Settings]) -> Result`:
  the context carries the store, the caller, the correlation id and the service's settings.
"""

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from crm_contracts import Event
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from crm_runtime.auth import Principal
from crm_runtime.store import Store, UnitOfWork

SettingsT = TypeVar("SettingsT")
Handler = Callable[..., Awaitable[None]]  # as declared: the event, the uow, then dependencies
EventHandler = Callable[[Any, UnitOfWork], Awaitable[None]]  # as called: dependencies bound
EventHandlers = Mapping[type[Event], Sequence[Handler]]
WiredHandlers = dict[type[Event], list[EventHandler]]
_GIVEN = 2  # every event handler's first two parameters: the event and the unit of work


def inject(handler: Handler, dependencies: Mapping[str, Any]) -> EventHandler:
    """The handler with its dependencies bound by parameter name; a parameter nobody provides is
    an error at start-up, not at the first event."""
    names = list(inspect.signature(handler).parameters)[_GIVEN:]
    missing = [name for name in names if name not in dependencies]
    if missing:
        raise TypeError(
            f"{handler.__qualname__} needs {', '.join(missing)}: bootstrap provides none"
        )
    if not names:
        return handler
    return functools.partial(handler, **{name: dependencies[name] for name in names})


def wire(handlers: EventHandlers, dependencies: Mapping[str, Any]) -> WiredHandlers:
    return {
        event_type: [inject(handler, dependencies) for handler in listed]
        for event_type, listed in handlers.items()
    }


@dataclass(frozen=True)
class Context(Generic[SettingsT]):
    """What a command handler gets besides its command."""

    store: Store
    settings: SettingsT
    correlation_id: UUID
    caller: Principal | None = None  # None when the service acts on its own (start-up, an event)


class Command(BaseModel):
    """What a caller asks for. Unknown fields are refused, and so are NaN and infinities, which
    JSON parsers let through but no amount, volume or ratio can be."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Patch(Command):
    """A partial update: a field left out stays as it is; `null` clears a field only where
    `nullable` names it, and is refused (422, naming the field) everywhere else."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        # Runs only for fields the caller sent, so the 422 names each refused field (its `loc`).
        if value is None and info.field_name not in cls.nullable:
            raise ValueError(f"{info.field_name} may not be null: leave it out to keep it")
        return value
