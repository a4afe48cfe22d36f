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
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Generic, TypeVar
from uuid import UUID

from crm_contracts import Event
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    ValidationInfo,
    field_validator,
)

from crm_runtime.auth import Principal
from crm_runtime.store import Store, UnitOfWork

# Stored and compared in UTC, and read in any time zone (a day either way): an instant within a
# day of the ends of what a datetime holds overflows somewhere along the way, so it is refused.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _written_as_a_time(given: Any) -> Any:
    """Pydantic would read a number as seconds since 1970: `until=0.5` was a period ending then."""
    if isinstance(given, int | float) or (isinstance(given, str) and _is_number(given)):
        raise ValueError("a time is written in ISO 8601 with its time zone, not as a number")
    return given


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment <= LATEST:
        span = f"{EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}"
        raise ValueError(f"out of range: times must lie from {span} in UTC")
    return moment


# A moment a caller gives (a command's field, a query's bound): ISO 8601 with its time zone.
Instant = Annotated[AwareDatetime, BeforeValidator(_written_as_a_time), AfterValidator(_in_range)]

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
    JSON parsers let through but no amount, volume or ratio can be. Flags and numbers are taken
    as JSON writes them, as the OpenAPI document says: 0 is no `false`, "5" no 5 (pydantic would
    convert them; the HTTP fuzzing found every such field took them)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        loose = [
            field
            for field in cls.model_fields.values()
            if _flag_or_number(field.annotation)
            and not any(isinstance(rule, Strict) for rule in field.metadata)
        ]
        for field in loose:
            field.metadata.append(Strict())
        if loose:
            cls.model_rebuild(force=True)


def _flag_or_number(annotation: Any) -> bool:
    """A flag or a number, optional or not, constrained or not (`FreightTons | None` too: a
    constrained type inside an Optional stays Annotated there)."""
    kinds = set(typing.get_args(annotation)) - {type(None)} or {annotation}
    plain = {typing.get_args(kind)[0] if _annotated(kind) else kind for kind in kinds}
    return bool(plain) and plain <= {bool, int, float}


def _annotated(kind: Any) -> bool:
    return typing.get_origin(kind) is Annotated


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
