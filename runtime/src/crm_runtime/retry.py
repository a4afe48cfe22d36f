"""Which faults are transient, and the one backoff used to wait them out."""

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure, PyMongoError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

log = structlog.get_logger(__name__)


class WaitAndRetry(Exception):
    """Raised where the work must wait for a while and is tried again (a pause, say)."""


def is_transient(error: BaseException) -> bool:
    """A broker or database that is away, a conflict that a retry resolves, or a wait."""
    if isinstance(error, WaitAndRetry):
        return True
    if isinstance(error, ConnectionFailure | KafkaConnectionError | KafkaTimeoutError):
        return True
    if isinstance(error, PyMongoError):
        return error.has_error_label("TransientTransactionError") or error.has_error_label(
            "RetryableWriteError"
        )
    if isinstance(error, KafkaError):
        return bool(getattr(error, "retriable", False))
    return False


def _log_attempt(state: RetryCallState) -> None:
    log.warning(
        "transient fault, retrying",
        attempt=state.attempt_number,
        error=repr(state.outcome.exception()) if state.outcome else None,
        wait_s=round(state.next_action.sleep, 2) if state.next_action else None,
    )


def until_it_works(max_backoff_s: float) -> AsyncRetrying:
    """Retries transient faults forever, with capped exponential backoff: nothing is skipped."""
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential_jitter(multiplier=0.1, max=max_backoff_s),
        before_sleep=_log_attempt,
        reraise=True,
    )
