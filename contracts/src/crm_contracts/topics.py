"""Topic names and keys, in one place. Every topic is keyed by customer_id."""

CUSTOMER_EVENTS = "crm.customer.events"
FOLLOWUP_EVENTS = "crm.followup.events"
SCORING_EVENTS = "crm.scoring.events"

TOPIC_OF_EVENT: dict[str, str] = {
    "CustomerCreated": CUSTOMER_EVENTS,
    "VisitLogged": FOLLOWUP_EVENTS,
    "DealClosed": FOLLOWUP_EVENTS,
    "CustomerScored": SCORING_EVENTS,
}

ALL_TOPICS = (CUSTOMER_EVENTS, FOLLOWUP_EVENTS, SCORING_EVENTS)
DEAD_LETTER_SUFFIX = ".dlt"


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` sends what it cannot parse or apply, with the reason in headers."""
    return topic + DEAD_LETTER_SUFFIX


def topic_of(event_type: str) -> str:
    return TOPIC_OF_EVENT[event_type]
