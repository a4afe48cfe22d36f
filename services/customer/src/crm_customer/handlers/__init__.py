"""The customer service's commands and reactions: load, decide with the domain, save and emit in
one transaction. Errors here are the caller's to fix; entrypoints turn them into 4xx."""

from typing import Any


class NotFound(Exception):
    pass


class Conflict(Exception):
    """The request is valid but the state forbids it (409); `details` tell the caller what is
    there."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.details = details


class VersionRequired(Exception):
    """An update without the version it was based on (428): lost updates are not allowed."""


def require_version(given: int | None) -> int:
    if given is None:
        raise VersionRequired("send the version you read, in If-Match or as `version`")
    return given
