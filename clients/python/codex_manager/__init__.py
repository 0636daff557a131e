"""Standard-library client for the session settings service's REST API."""

from .changes import ChangeFeed
from .client import CodexManager, Controls, Namespace, Schemas, SessionHandle, Sessions, Settings
from .events import WatchEvent
from .errors import (
    CodexManagerError,
    ConflictError,
    DeletedError,
    HistoryTruncatedError,
    InvalidRequestError,
    Issue,
    LockedError,
    NotFoundError,
    OutcomeUnknownError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    SchemaViolatedError,
    SystemSessionError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = [
    "ChangeFeed",
    "CodexManager",
    "Controls",
    "Namespace",
    "Schemas",
    "SessionHandle",
    "Sessions",
    "Settings",
    "WatchEvent",
    "CodexManagerError",
    "ConflictError",
    "DeletedError",
    "HistoryTruncatedError",
    "InvalidRequestError",
    "Issue",
    "LockedError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SchemaViolatedError",
    "SystemSessionError",
    "UnauthenticatedError",
    "UnavailableError",
]
