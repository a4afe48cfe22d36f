"""Wire contracts of the CRM: every service and every outside publisher depends on this package."""

from crm_contracts.envelope import Event as Event
from crm_contracts.events import *  # noqa: F403 - the events are this package's public face
from crm_contracts.registry import EVENTS_BY_TAG as EVENTS_BY_TAG
from crm_contracts.registry import parse_event as parse_event
from crm_contracts.topics import ALL_TOPICS as ALL_TOPICS
from crm_contracts.topics import dead_letter_topic as dead_letter_topic
from crm_contracts.topics import topic_of as topic_of
