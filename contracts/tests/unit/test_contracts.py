import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crm_contracts import (
    ALL_TOPICS,
    EVENTS_BY_TAG,
    CustomerCreated,
    CustomerCreatedPayload,
    dead_letter_topic,
    parse_event,
    topic_of,
)
from crm_contracts.export import drift
from pydantic import ValidationError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("*/v*/*.json"))


def test_the_committed_schemas_match_the_models():
    assert drift() == [], "run `uv run crm-export-schemas` and commit contracts/schemas/"


def test_every_event_type_and_version_has_a_sample():
    covered = {f"{path.parts[-3]}.{path.parts[-2]}" for path in SAMPLE_FILES}
    assert covered == set(EVENTS_BY_TAG)


@pytest.mark.parametrize(
    "path", SAMPLE_FILES, ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}/{p.stem}"
)
def test_each_sample_is_accepted_as_its_own_type(path: Path):
    event = parse_event(path.read_bytes())
    assert event.tag == f"{path.parts[-3]}.{path.parts[-2]}"
    assert topic_of(event.event_type) in ALL_TOPICS


def test_an_event_survives_the_round_trip_through_bytes():
    event = CustomerCreated(
        producer="customer", customer_id="c-1", payload=CustomerCreatedPayload(name="Acme")
    )
    assert parse_event(event.to_bytes()) == event
    assert event.key() == b"c-1"


def test_events_are_frozen():
    event = CustomerCreated(
        producer="customer", customer_id="c-1", payload=CustomerCreatedPayload(name="Acme")
    )
    with pytest.raises(ValidationError):
        event.customer_id = "c-2"


def test_an_unknown_event_type_is_refused_with_the_reason():
    with pytest.raises(ValidationError, match="unknown event_type or schema_version"):
        parse_event(json.dumps({"event_type": "CustomerTeleported", "schema_version": 1}))


def test_an_unknown_major_version_is_refused():
    sample = json.loads((SAMPLES / "VisitLogged/v1/call-centre.json").read_text())
    with pytest.raises(ValidationError, match="unknown event_type or schema_version"):
        parse_event(json.dumps({**sample, "schema_version": 9}))


def test_an_added_optional_field_is_tolerated_within_a_major_version():
    sample = json.loads((SAMPLES / "CustomerCreated/v1/minimal.json").read_text())
    sample["payload"]["website"] = "example.com"
    assert parse_event(json.dumps(sample)).payload.name == "Xinjiang Mining Group"


def test_a_visit_cannot_end_before_it_starts():
    sample = json.loads((SAMPLES / "VisitLogged/v1/call-centre.json").read_text())
    start = datetime(2026, 11, 21, 10, tzinfo=UTC)
    sample["payload"] |= {
        "started_at": start.isoformat(),
        "ended_at": (start - timedelta(minutes=1)).isoformat(),
    }
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        parse_event(json.dumps(sample))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"outcome": "won", "amount": None}, "a won deal needs amount and currency"),
        ({"outcome": "lost", "lost_reason": None}, "a lost deal needs lost_reason"),
        ({"currency": "yuan"}, "String should match pattern"),
    ],
)
def test_a_deal_without_its_facts_is_refused(change, reason):
    sample = json.loads((SAMPLES / "DealClosed/v1/won.json").read_text())
    sample["payload"] |= change
    with pytest.raises(ValidationError, match=reason):
        parse_event(json.dumps(sample))


def test_occurred_at_must_carry_a_time_zone():
    sample = json.loads((SAMPLES / "CustomerCreated/v1/minimal.json").read_text())
    sample["occurred_at"] = "2026-11-20T08:31:00"
    with pytest.raises(ValidationError, match="timezone"):
        parse_event(json.dumps(sample))


def test_each_topic_has_its_own_dead_letter_topic():
    assert {dead_letter_topic(topic) for topic in ALL_TOPICS} == {
        f"{topic}.dlt" for topic in ALL_TOPICS
    }
