"""Bad records for the event path, drawn by Hypothesis from the contracts' JSON Schemas and samples:
required fields missing, wrong types, strings over their maxLength, values outside their enum, bad
dates and dates without a time zone, unknown event types and versions, invalid UTF-8, bytes that are
not JSON or not an object, oversized records, valid events under another key or on another topic.
Each comes with the reasons a consumer may give when it dead-letters it."""

import itertools
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_contracts import ALL_TOPICS, topic_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SCHEMAS = {
    path.name.removesuffix(".json"): json.loads(path.read_text())
    for path in sorted((CONTRACTS / "schemas").glob("*.v*.json"))
}
SAMPLES = [
    json.loads(path.read_text()) for path in sorted((CONTRACTS / "samples").glob("*/v*/*.json"))
]
SCHEMA_REASONS = frozenset({"schema-invalid", "malformed"})
OVERSIZED_BYTES = 950_000  # over the 900,000 an event may have; under Kafka's 1 MiB record
BAD_DATES = [
    "2026-02-30T10:00:00+00:00",  # no such day
    "2026-13-01T10:00:00+00:00",
    "2026-11-29T25:00:00Z",
    "2026-11-29T10:00:00",  # no time zone
    "2026-11-29",
    "yesterday",
    "",
]


_LIST = st.lists(st.integers(), max_size=3)
_DICT = st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
WRONG_TYPES = {
    "object": st.one_of(st.integers(), st.text(max_size=20), _LIST),
    "array": st.one_of(st.integers(), _DICT),
    "scalar": st.one_of(_LIST, _DICT),
}


@dataclass(frozen=True)
class BadRecord:
    kind: str
    topic: str
    key: bytes | None
    value: bytes
    reasons: frozenset[str]  # what the dead letter may say


def _schema_of(event: dict[str, Any]) -> dict[str, Any]:
    return SCHEMAS[f"{event['event_type']}.v{event['schema_version']}"]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _fields(schema: dict[str, Any]) -> list[tuple[tuple[str, ...], dict[str, Any], bool]]:
    """Each field of the envelope and of the payload: its path, its schema, whether required."""
    top = [
        ((name,), node, name in schema.get("required", []))
        for name, node in schema["properties"].items()
    ]
    payload = _resolve(schema, schema["properties"]["payload"])
    inner = [
        (("payload", name), _resolve(schema, node), name in payload.get("required", []))
        for name, node in payload.get("properties", {}).items()
    ]
    return [(path, _resolve(schema, node), required) for path, node, required in top] + inner


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(event))
    target = changed
    for part in path[:-1]:
        target = target[part]
    if value is _DROP:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return changed


_DROP = object()
_IDS = itertools.count(1)


@st.composite
def valid_event(draw: st.DrawFn) -> dict[str, Any]:
    """A sample of the contracts with an id of its own (two records with one id are one event,
    dead-lettered once) and a customer."""
    event = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    event["event_id"] = str(uuid.UUID(int=next(_IDS), version=4))
    event["customer_id"] = f"fz-{draw(st.integers(0, 10**9))}"
    return event


def _record(kind: str, event: dict[str, Any], value: Any, reasons: frozenset[str]) -> BadRecord:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return BadRecord(
        kind, topic_of(event["event_type"]), event["customer_id"].encode(), raw, reasons
    )


@st.composite
def schema_breach(draw: st.DrawFn) -> BadRecord:
    event = draw(valid_event())
    schema = _schema_of(event)
    fields = _fields(schema)
    required = [path for path, _, needed in fields if needed]
    bounded = [(path, node) for path, node, _ in fields if node.get("maxLength")]
    enums = [(path, node) for path, node, _ in fields if node.get("enum")]
    dates = [path for path, node, _ in fields if node.get("format") == "date-time"]
    typed = [(path, node["type"]) for path, node, needed in fields if needed and "type" in node]
    kinds = {"missing": required, "wrong-type": typed, "too-long": bounded, "enum": enums}
    kind = draw(st.sampled_from([k for k, found in {**kinds, "bad-date": dates}.items() if found]))
    if kind == "missing":
        path, value = draw(st.sampled_from(required)), _DROP
    elif kind == "wrong-type":  # values lax validation never turns into the field's type
        path, expected = draw(st.sampled_from(typed))
        value = draw(WRONG_TYPES[expected] if expected in WRONG_TYPES else WRONG_TYPES["scalar"])
    elif kind == "too-long":
        path, node = draw(st.sampled_from(bounded))
        value = "x" * (node["maxLength"] + draw(st.integers(1, 5000)))
    elif kind == "enum":
        path, node = draw(st.sampled_from(enums))
        value = draw(st.text(min_size=1, max_size=12).filter(lambda text: text not in node["enum"]))
    else:
        path = draw(st.sampled_from(dates))
        naive = draw(st.datetimes()).isoformat()  # no time zone
        value = draw(st.sampled_from([*BAD_DATES, naive]))
    return _record(kind, event, _set(event, path, value), SCHEMA_REASONS)


@st.composite
def unknown_type_or_version(draw: st.DrawFn) -> BadRecord:
    event = draw(valid_event())
    if draw(st.booleans()):
        known = {name.split(".v")[0] for name in SCHEMAS}
        new = draw(st.text(min_size=1, max_size=30).filter(lambda name: name not in known))
        return _record("unknown-type", event, {**event, "event_type": new}, SCHEMA_REASONS)
    versions = {
        int(name.split(".v")[1]) for name in SCHEMAS if name.startswith(event["event_type"] + ".")
    }
    version = draw(st.integers(-5, 10**6).filter(lambda v: v not in versions))
    return _record("unknown-version", event, {**event, "schema_version": version}, SCHEMA_REASONS)


@st.composite
def not_an_event(draw: st.DrawFn) -> BadRecord:
    event = draw(valid_event())
    text = json.dumps(event).encode()
    kind = draw(st.sampled_from(["invalid-utf8", "not-json", "not-an-object"]))
    if kind == "invalid-utf8":  # inside a string value, so that only the encoding is wrong
        at = text.index(b'"', text.index(b'"customer_id"') + 14) + 1
        value = (
            text[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + text[at:]
        )
    elif kind == "not-json":
        value = draw(st.binary(max_size=200).filter(lambda raw: not _parses(raw)))
    else:
        value = json.dumps(
            draw(
                st.one_of(
                    st.none(),
                    st.integers(),
                    st.text(max_size=20),
                    st.lists(st.integers(), max_size=4),
                )
            )
        ).encode()
    # JSON that is not an object may be called either: the bytes parse, the event does not.
    reasons = SCHEMA_REASONS if kind == "not-an-object" else frozenset({"malformed"})
    return _record(kind, event, value, reasons)


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


@st.composite
def misplaced(draw: st.DrawFn) -> BadRecord:
    """Valid events, but keyed by another than their customer, or on another contract topic."""
    event = draw(valid_event())
    value = json.dumps(event).encode()
    home = topic_of(event["event_type"])
    if draw(st.booleans()):
        other = st.binary(max_size=20).filter(lambda key: key != event["customer_id"].encode())
        key = draw(st.one_of(st.none(), other))
        return BadRecord("wrong-key", home, key, value, frozenset({"wrong-key"}))
    topic = draw(st.sampled_from([t for t in ALL_TOPICS if t != home]))
    return BadRecord(
        "wrong-topic", topic, event["customer_id"].encode(), value, frozenset({"wrong-topic"})
    )


@st.composite
def oversized(draw: st.DrawFn) -> BadRecord:
    """A valid event padded with a field nobody knows: only its size is wrong. Drawn apart, and
    few: each is nearly a megabyte."""
    event = draw(valid_event())
    padded = {**event, "padding": "x" * OVERSIZED_BYTES}
    return _record("oversized", event, padded, frozenset({"oversized"}))


def bad_record() -> st.SearchStrategy[BadRecord]:
    return st.one_of(schema_breach(), unknown_type_or_version(), not_an_event(), misplaced())


@st.composite
def extended_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with fields it does not know: readers ignore them (contracts/README.md)."""
    event = draw(valid_event())
    names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12)
    extra = draw(
        st.dictionaries(
            names.map(lambda n: f"x_{n}"),
            st.integers() | st.text(max_size=10),
            min_size=1,
            max_size=3,
        )
    )
    return {**event, **extra, "payload": {**event["payload"], **extra}}


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` examples of a strategy, the same on every run."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found
