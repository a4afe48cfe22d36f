from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from fastapi import HTTPException
from pymongo.errors import DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError

from crm_runtime.pagination import before_cursor, encode_cursor
from crm_runtime.retry import is_transient
from crm_runtime.settings import ServiceSettings


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ServerSelectionTimeoutError("no primary"), True),
        (KafkaConnectionError(), True),
        (OperationFailure("write conflict", 112, {"errorLabels": ["TransientTransactionError"]}), True),
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


def test_a_cursor_names_the_items_after_it():
    at = datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert before_cursor(encode_cursor(at, "e-9"), "occurred_at") == {
        "$or": [{"occurred_at": {"$lt": at}}, {"occurred_at": at, "_id": {"$lt": "e-9"}}]
    }


def test_a_forged_cursor_is_a_400():
    with pytest.raises(HTTPException) as refused:
        before_cursor("bm90LWpzb24", "occurred_at")
    assert refused.value.status_code == 400
