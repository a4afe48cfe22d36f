"""One Kafka record as the runtime handles it, independent of the client library."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: Any) -> "Record":
        """From an aiokafka ConsumerRecord (or anything with its attributes)."""
        headers = dict(raw.headers or ())
        return cls(raw.topic, raw.partition, raw.offset, raw.key, raw.value or b"", headers)
