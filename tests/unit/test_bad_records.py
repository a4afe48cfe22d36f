"""The bad records the event fuzzing publishes are refused by the consumer's own checks, each with a
reason it was drawn for; events with fields nobody knows are accepted, as the contract says."""

from bad_records import BadRecord, bad_record, extended_event, oversized
from crm_contracts import topic_of
from crm_runtime.consumer import checked
from crm_runtime.dead_letters import reason_of
from crm_runtime.records import Record
from hypothesis import given, settings


def refusal(bad: BadRecord) -> str | None:
    """The consumer's own reading of the record: None when it would apply it."""
    read = checked(Record(bad.topic, 0, 0, bad.key, bad.value))
    return reason_of(read) if isinstance(read, Exception) else None


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(bad_record())
def test_every_bad_record_is_refused_with_a_reason_it_was_drawn_for(bad):
    assert refusal(bad) in bad.reasons, (bad.kind, bad.value[:300])


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(oversized())
def test_a_record_larger_than_an_event_may_be_is_refused_before_it_is_parsed(bad):
    assert refusal(bad) == "oversized"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(extended_event())
def test_an_event_with_fields_nobody_knows_is_accepted(event):
    import json

    bad = BadRecord(
        "extended",
        topic_of(event["event_type"]),
        event["customer_id"].encode(),
        json.dumps(event).encode(),
        frozenset(),
    )
    assert refusal(bad) is None
