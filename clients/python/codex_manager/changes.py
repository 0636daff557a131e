"""The store-wide change feed over Server-Sent Events (``GET /api/events``),
as an iterator that resumes by itself: when the stream breaks (the server
restarts, a watch that fell behind is cut off), it opens it again after the
last cursor it saw, so no change is missed and none comes twice."""

import time
from typing import Any, Dict, Iterator, List, Optional

from ._http import HttpTransport
from .errors import CodexManagerError, UnavailableError
from .events import WatchEvent


class ChangeFeed:
    """Iterates ``change`` events (``.data``: cursor, sessionId, scope, revision, kind
    and the history entry; ``.id``: the cursor). ``.cursor`` is where the feed
    stands: after the last change, or the last heartbeat. Stop with ``.close()``."""

    # Between reconnections, in seconds: short, then backing off, to at most 5 s.
    _BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)

    def __init__(self, http: HttpTransport, query: Dict[str, Any], after: Optional[str], timeout: float, max_retries: int):
        self._http = http
        self._query = query
        self._timeout = timeout
        self._max_retries = max_retries
        self.cursor: Optional[str] = after
        self._closed = False
        # Opened now: a refused watch raises here, and a change made after this returns is never missed.
        self._events: Optional[Iterator[WatchEvent]] = self._open()

    def __iter__(self) -> "ChangeFeed":
        return self

    def __next__(self) -> WatchEvent:
        failures = 0
        while not self._closed:
            try:
                if self._events is None:
                    self._events = self._open()
                for event in self._events:
                    if "cursor" in event.data:
                        self.cursor = event.data["cursor"]
                    if event.event == "change":
                        return event
                    failures = 0
                self._events = None  # the server ended the stream: resume after the cursor
            except CodexManagerError as err:
                self._events = None
                # Not applied / cut off for falling behind: resume. Anything else (a cursor
                # older than the feed keeps, a bad filter, no permission) is the caller's to handle.
                if not (isinstance(err, UnavailableError) or err.status == 429) or failures >= self._max_retries:
                    raise
                # A watch refused for the caller's rate limit says how long to wait.
                time.sleep(max(self._BACKOFF[min(failures, len(self._BACKOFF) - 1)], getattr(err, "retry_after", 0)))
                failures += 1
        raise StopIteration

    def _open(self) -> Iterator[WatchEvent]:
        return self._http.events("/events", {**self._query, "after": self.cursor}, self._timeout)

    def close(self) -> None:
        self._closed = True
        close = getattr(self._events, "close", None)
        if close:
            close()


def feed_query(keys: Optional[List[str]], scope: Optional[str], session_id_prefix: Optional[str]) -> Dict[str, Any]:
    return {"key": list(keys) if keys else None, "scope": scope, "sessionIdPrefix": session_id_prefix}
