"""Structured JSON logs. Event and correlation ids are bound per message with bind_event_context."""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from crm_contracts import Event
from structlog.typing import Processor

SECRET_KEYS = {"password", "token", "access_token", "authorization", "secret", "phone", "email"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()-]{6,}\d(?![\w-])")
BEARER = re.compile(r"(?i)bearer\s+[\w.-]+")
IDS = {"event_id", "correlation_id", "customer_id", "timestamp", "user_id", "salesperson_id"}


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: no password, token, phone number or e-mail address leaves in clear,
    whoever logged it (our code, a library, an error message quoting input)."""
    for key, value in event.items():
        if key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, str) and key not in IDS:
            event[key] = PHONE.sub(
                "[phone]", EMAIL.sub("[email]", BEARER.sub("Bearer [token]", value))
            )
    return event


def configure_logging(service_name: str, level: str = "INFO") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries (uvicorn, aiokafka, pymongo, faststream) log through the standard module: same JSON.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel("WARNING")
    structlog.contextvars.bind_contextvars(service=service_name)


def bind_event_context(event: Event) -> None:
    structlog.contextvars.bind_contextvars(
        event_id=str(event.event_id),
        event_type=event.event_type,
        correlation_id=str(event.correlation_id),
        customer_id=event.customer_id,
    )


def clear_event_context() -> None:
    structlog.contextvars.unbind_contextvars(
        "event_id", "event_type", "correlation_id", "customer_id"
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
