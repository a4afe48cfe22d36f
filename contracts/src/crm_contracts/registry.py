"""Every event class by its type and version, and the one parser consumers use."""

from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, TypeAdapter

from crm_contracts.envelope import Event, version_tag
from crm_contracts.events import ALL_EVENTS

EVENT_CLASSES: tuple[type[Event], ...] = ALL_EVENTS


def _class_tag(cls: type[Event]) -> str:
    fields = cls.model_fields
    return version_tag(fields["event_type"].default, fields["schema_version"].default)


EVENTS_BY_TAG: dict[str, type[Event]] = {_class_tag(cls): cls for cls in EVENT_CLASSES}


def _tag_of(data: Any) -> str | None:
    if isinstance(data, dict):
        return f"{data.get('event_type')}.v{data.get('schema_version')}"
    if isinstance(data, Event):
        return data.tag
    return None


# Discriminated on type *and* version, so a new major version is one more member, not a rewrite.
AnyEvent: Any = Annotated[
    Union[tuple(Annotated[cls, Tag(tag)] for tag, cls in EVENTS_BY_TAG.items())],  # noqa: UP007
    Discriminator(
        _tag_of,
        custom_error_type="unknown_event",
        custom_error_message="unknown event_type or schema_version",
    ),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Event:
    """Parse and validate one event from JSON; raises pydantic.ValidationError with the reasons."""
    return _ADAPTER.validate_json(raw)
