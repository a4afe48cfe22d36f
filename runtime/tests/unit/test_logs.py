import json
import logging

import structlog
from crm_runtime.logs import configure_logging, redact


def test_secrets_and_contact_details_never_leave_in_clear(capfd):
    configure_logging("test")
    structlog.get_logger("t").warning(
        "login for wang.lei@example.cn from +86 138-0013-8000 failed",
        password="hunter2",
        customer_id="3c1d9a52-6f0e-4e8b-8b1e-7d2f0a4c5e11",
        offset=12345678,
    )
    logging.getLogger("uvicorn.error").error("header Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig")
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    text = json.dumps(lines)
    for secret in ("wang.lei@example.cn", "138-0013-8000", "hunter2", "eyJhbGciOi"):
        assert secret not in text
    assert (
        lines[0]["customer_id"] == "3c1d9a52-6f0e-4e8b-8b1e-7d2f0a4c5e11"
        and lines[0]["offset"] == 12345678
    )
    assert "[email]" in lines[0]["event"] and "[phone]" in lines[0]["event"]


def test_ids_and_times_are_left_alone():
    event = {
        "event": "applied",
        "event_id": "0b6f2c1e-8a43-4d2b-9a61-3f0f5d2a9c01",
        "timestamp": "2026-11-27T09:00:00Z",
        "topic": "crm.customer.events",
    }
    assert redact(None, "info", dict(event)) == event
