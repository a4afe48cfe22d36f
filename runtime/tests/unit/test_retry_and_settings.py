import base64
import json
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from crm_runtime.errors import Unprocessable
from crm_runtime.pagination import after, next_cursor, sort_by
from crm_runtime.retry import is_transient
from crm_runtime.settings import ServiceSettings
from pymongo.errors import DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ServerSelectionTimeoutError("no primary"), True),
        (KafkaConnectionError(), True),
        (
            OperationFailure("write conflict", 112, {"errorLabels": ["TransientTransactionError"]}),
            True,
        ),
        (DuplicateKeyError("dup"), False),
        (TopicAuthorizationFailedError(), False),
        (ValueError("bug"), False),
    ],
)
def test_only_faults_that_go_away_are_transient(error, transient):
    assert is_transient(error) is transient


def test_settings_come_from_the_environment_under_their_common_names(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("CRM_NAMESPACE", "staging")
    settings = ServiceSettings(service_name="scoring")
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.database_name == "staging_scoring"
    assert settings.consumer_group == "staging.scoring"


def test_a_cursor_names_the_items_after_the_last_of_a_page_newest_first():
    at = datetime(2026, 11, 27, 9, tzinfo=UTC)
    sort = sort_by("occurred_at", descending=True)
    items = [{"_id": "e-9", "occurred_at": at}, {"_id": "e-8", "occurred_at": at}]
    assert after(next_cursor(items, 1, sort), sort) == {
        "$or": [{"occurred_at": {"$lt": at}}, {"occurred_at": at, "_id": {"$lt": "e-9"}}]
    }


def test_an_ascending_cursor_looks_forward():
    sort = sort_by("name", descending=False)
    cursor = next_cursor([{"_id": "c-1", "name": "Acme"}, {"_id": "c-2", "name": "Beta"}], 1, sort)
    assert after(cursor, sort) == {
        "$or": [{"name": {"$gt": "Acme"}}, {"name": "Acme", "_id": {"$gt": "c-1"}}]
    }


def test_the_last_page_has_no_cursor():
    assert next_cursor([{"_id": "a", "name": "x"}], 1, sort_by("name", False)) is None


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWpzb24",  # not JSON
        "%%%",  # not base64
        _cursor(["only-one"]),  # another sort's
        _cursor({"occurred_at": 1}),  # not a list
        _cursor([{"$gt": ""}, {"$ne": None}]),  # query operators
        _cursor([{"$dt": "2026-11-27T09:00:00+00:00", "$where": "1"}, "e-1"]),
        _cursor([["a"], "e-1"]),
    ],
)
def test_a_forged_garbled_or_foreign_cursor_is_a_422_never_an_operator(cursor):
    with pytest.raises(Unprocessable, match="invalid cursor"):
        after(cursor, sort_by("occurred_at", True))
