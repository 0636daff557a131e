"""Typed errors for every documented REST status; each carries the status and body."""

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Union


class Issue(NamedTuple):
    """One problem with a request. For a value that breaks its key's JSON Schema,
    ``path`` is a JSON Pointer within the settings map
    (``"/team/review/autoApprove/threshold"``) and ``keyword`` the schema keyword it
    failed (``"maximum"``); for any other, ``path`` lists the request's field names
    and indexes, ``code`` says what kind of problem, and ``keyword`` is None."""

    path: Union[str, List[Union[str, int]]]
    message: str
    keyword: Optional[str] = None
    code: Optional[str] = None


def _issues(raw: Any) -> List[Issue]:
    if not isinstance(raw, list):
        return []
    return [
        Issue(path=i.get("path", []), message=i.get("message", ""), keyword=i.get("keyword"), code=i.get("code"))
        for i in raw
        if isinstance(i, dict)
    ]


class CodexManagerError(Exception):
    """A call the service refused or could not answer."""

    def __init__(self, status: int, body: Optional[Dict[str, Any]], message: Optional[str] = None):
        self.status = status
        self.body = body or {}
        #: On a failed write: the Idempotency-Key it was sent with. Sending the same
        #: write again with ``request_id=`` this key applies it at most once.
        self.request_id: Optional[str] = None
        super().__init__(message or self.body.get("message") or f"HTTP {status}: {self.body}")


class InvalidRequestError(CodexManagerError):
    """400: the request was malformed, or a value it writes breaks its key's schema.
    ``issues`` lists each problem (``Issue``: where, what, and the schema keyword)."""

    @property
    def issues(self) -> List[Issue]:
        return _issues(self.body.get("issues"))


class UnauthenticatedError(CodexManagerError):
    """401: authentication is on and no valid bearer token was sent."""


class SystemSessionError(CodexManagerError):
    """403: the session is owned by the orchestrator."""


class PermissionDeniedError(CodexManagerError):
    """403: the token's role may not do this (for example a read token writing)."""


class NotFoundError(CodexManagerError):
    """404: no such session (or route, or schema: ``code`` ``schema_not_found``)."""


class ConflictError(CodexManagerError):
    """409: ``ifRevision`` did not match, or the session already exists."""


class SchemaViolatedError(ConflictError):
    """409 ``schema_violated``: registering a schema was refused because stored values
    break it. ``count`` is how many scopes hold one; ``violations`` the first of them,
    each ``{"sessionId", "scope", "issues": [Issue, ...]}``. Fix them, or ``force=True``."""

    @property
    def count(self) -> int:
        return int(self.body.get("count", 0))

    @property
    def violations(self) -> List[Dict[str, Any]]:
        return [{**v, "issues": _issues(v.get("issues"))} for v in self.body.get("violations", []) if isinstance(v, dict)]


class DeletedError(CodexManagerError):
    """410: the session was deleted."""


class HistoryTruncatedError(CodexManagerError):
    """410 ``history_truncated``: history (``fromRevision``) or the change feed
    (``after``; ``body["oldestCursor"]`` is the oldest cursor still held) no longer
    reaches that far back. Read the state again and watch from there."""


class PayloadTooLargeError(CodexManagerError):
    """413: the body or the settings map is over a limit."""


class LockedError(CodexManagerError):
    """423: default-scope writes are locked by harness configuration."""


class RateLimitedError(CodexManagerError):
    """429 ``rate_limited``: this caller is over its rate limit, and nothing was applied.
    ``retry_after`` is how many seconds to wait first (the Retry-After header). The
    client waits that long and sends the call once more by itself (up to 30 s)."""

    def __init__(self, status: int, body: Optional[Dict[str, Any]], retry_after: float = 1.0):
        super().__init__(status, body)
        self.retry_after = retry_after


class UnavailableError(CodexManagerError):
    """503, or the service could not be reached: the write was not applied."""


class OutcomeUnknownError(CodexManagerError):
    """504: the write may or may not have been applied. Read it back, or send it
    again with the same ``request_id`` (the service applies it at most once)."""


_BY_STATUS = {
    400: InvalidRequestError,
    401: UnauthenticatedError,
    403: SystemSessionError,
    404: NotFoundError,
    409: ConflictError,
    410: DeletedError,
    413: PayloadTooLargeError,
    423: LockedError,
    503: UnavailableError,
    504: OutcomeUnknownError,
}


def error_for(status: int, body: Optional[Dict[str, Any]], headers: Optional[Mapping[str, str]] = None) -> CodexManagerError:
    code = (body or {}).get("code")
    if status == 429 and code == "rate_limited":
        return RateLimitedError(status, body, _retry_after(headers, body))
    if status == 403 and code == "forbidden":
        return PermissionDeniedError(status, body)
    if status == 410 and code == "history_truncated":
        return HistoryTruncatedError(status, body)
    if status == 409 and code == "schema_violated":
        return SchemaViolatedError(status, body)
    return _BY_STATUS.get(status, CodexManagerError)(status, body)


def _retry_after(headers: Optional[Mapping[str, str]], body: Optional[Dict[str, Any]]) -> float:
    """Seconds to wait: the Retry-After header (delta-seconds), else the body's retryAfterMs, else 1."""
    raw = (headers or {}).get("Retry-After")
    try:
        if raw is not None:
            return max(0.0, float(raw))
    except ValueError:
        pass  # an HTTP date: not sent by this service
    ms = (body or {}).get("retryAfterMs")
    return ms / 1000 if isinstance(ms, (int, float)) else 1.0
