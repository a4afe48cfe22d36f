"""Topic names and keys, in one place. Every topic is keyed by customer_id."""

from crm_contracts import events
from crm_contracts.envelope import Event

CUSTOMER_EVENTS = "crm.customer.events"
SALESPERSON_EVENTS = "crm.salesperson.events"
FOLLOWUP_EVENTS = "crm.followup.events"
SCORING_EVENTS = "crm.scoring.events"
USER_EVENTS = "crm.user.events"  # keyed by the user's id


def _types(classes: tuple[type[Event], ...]) -> list[str]:
    return [cls.model_fields["event_type"].default for cls in classes]


TOPIC_OF_EVENT: dict[str, str] = {
    **dict.fromkeys(_types(events.CUSTOMER_SERVICE_EVENTS), CUSTOMER_EVENTS),
    **dict.fromkeys(_types(events.SALESPERSON_EVENTS), SALESPERSON_EVENTS),
    **dict.fromkeys(_types(events.FOLLOWUP_EVENTS), FOLLOWUP_EVENTS),
    **dict.fromkeys(_types(events.SCORING_EVENTS), SCORING_EVENTS),
    **dict.fromkeys(_types(events.USER_EVENTS), USER_EVENTS),
}

ALL_TOPICS = (CUSTOMER_EVENTS, SALESPERSON_EVENTS, FOLLOWUP_EVENTS, SCORING_EVENTS, USER_EVENTS)
DEAD_LETTER_SUFFIX = ".dlt"


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` sends what it cannot parse or apply, with the reason in
    headers."""
    return topic + DEAD_LETTER_SUFFIX


def topic_of(event_type: str) -> str:
    return TOPIC_OF_EVENT[event_type]
