"""Wire contracts of the CRM: every service and every outside publisher depends on this package."""

from crm_contracts.envelope import Event
from crm_contracts.events import *  # noqa: F403 - the events are this package's public face
from crm_contracts.events import __all__ as _events
from crm_contracts.registry import EVENTS_BY_TAG, parse_event
from crm_contracts.topics import ALL_TOPICS, dead_letter_topic, topic_of

__all__ = ["ALL_TOPICS", "EVENTS_BY_TAG", "Event", "dead_letter_topic", "parse_event", "topic_of", *_events]
