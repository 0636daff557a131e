"""The client surface: ``CodexManager`` → ``sessions`` and ``session(id)`` → ``settings`` / ``controls``."""

from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from ._http import ClientCert, HttpTransport, quote_segment, tls_context
from .changes import ChangeFeed, feed_query
from .config import Endpoint, from_environment, load_profile
from .events import WatchEvent

_MISSING: Any = object()


class CodexManager:
    """Entry point. Use ``from_profile`` or ``from_env``; usable as a context manager."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_prefix: Optional[str] = None,
        timeout: float = 30.0,
        token: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        retry_writes: bool = True,
        ca_file: Optional[str] = None,
        cert: Optional[ClientCert] = None,
        _endpoint: Optional[Endpoint] = None,
    ):
        """``token`` is sent as a bearer token when the service has auth on; by default it
        comes from $CODEX_MANAGER_BEARER_TOKEN (or $CODEX_MANAGER_API_TOKEN), then the
        profile's ``auth.bearer``. ``headers`` go with every request.

        Every write sends an Idempotency-Key (``request_id=``, else a random UUID) and,
        unless ``retry_writes=False``, is sent once more with the same key when the
        service answers 503 or 504 or cannot be reached; it is applied at most once. A
        write or watch refused for the caller's rate limit (``RateLimitedError``) is sent
        once more after its Retry-After.

        For an https ``base_url``: ``ca_file`` is the CA certificate (PEM) to trust instead
        of the system's, and ``cert`` a client certificate for a service that asks for one:
        a PEM file with the certificate and key, or a (certificate file, key file) pair."""
        endpoint = _endpoint or from_environment()
        self._http = HttpTransport(
            Endpoint(
                base_url=base_url or endpoint.base_url,
                api_prefix=api_prefix or endpoint.api_prefix,
                bearer=token or endpoint.bearer,
                headers={**endpoint.headers, **(headers or {})},
            ),
            timeout=timeout,
            retry_writes=retry_writes,
            tls=tls_context(ca_file, cert),
        )
        self.sessions = Sessions(self._http)
        self.schemas = Schemas(self._http)

    @classmethod
    def from_profile(
        cls,
        name: Optional[str] = None,
        timeout: float = 30.0,
        token: Optional[str] = None,
        retry_writes: bool = True,
        ca_file: Optional[str] = None,
        cert: Optional[ClientCert] = None,
    ) -> "CodexManager":
        """The named profile (or ``currentProfile``): its baseUrl, apiPrefix, ``auth.bearer`` and ``headers``."""
        return cls(timeout=timeout, token=token, retry_writes=retry_writes, ca_file=ca_file, cert=cert, _endpoint=load_profile(name))

    @classmethod
    def from_env(
        cls,
        timeout: float = 30.0,
        token: Optional[str] = None,
        retry_writes: bool = True,
        ca_file: Optional[str] = None,
        cert: Optional[ClientCert] = None,
    ) -> "CodexManager":
        return cls(timeout=timeout, token=token, retry_writes=retry_writes, ca_file=ca_file, cert=cert)

    @property
    def base_url(self) -> str:
        return self._http.endpoint.base_url

    def session(self, session_id: str) -> "SessionHandle":
        return SessionHandle(self._http, session_id)

    def changes(
        self,
        after: Optional[str] = None,
        keys: Optional[List[str]] = None,
        scope: Optional[str] = None,
        session_id_prefix: Optional[str] = None,
        timeout: float = 60.0,
        max_retries: int = 5,
    ) -> ChangeFeed:
        """Every change across all sessions (and the default scope), in feed order, over
        Server-Sent Events: after the cursor ``after`` (from a change, ``.cursor`` or
        ``list_settings``), else from now. ``keys`` keeps the changes that touch one of
        these top-level keys (and deletions); ``scope`` is "sessions" or "default";
        ``session_id_prefix`` keeps those sessions. The iterator reopens a broken stream
        after its last cursor by itself (up to ``max_retries`` failures in a row); a
        cursor older than the feed keeps raises ``HistoryTruncatedError`` (its
        ``body["oldestCursor"]`` is the oldest one still held)."""
        return ChangeFeed(self._http, feed_query(keys, scope, session_id_prefix), after, timeout, max_retries)

    def list_settings(self, page_size: Optional[int] = None, page_token: Optional[str] = None) -> Dict[str, Any]:
        """One page of every scope's settings, controls and revision (the default scope
        first): ``{"items", "nextPageToken", "cursor"}``. Watch ``changes(after=cursor)``
        once the last page is in, and nothing is missed."""
        return self._http.request("GET", "/settings", query={"pageSize": page_size, "pageToken": page_token})

    def close(self) -> None:
        """Nothing to release: each call opens its own connection."""

    def __enter__(self) -> "CodexManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Sessions:
    def __init__(self, http: HttpTransport):
        self._http = http

    def create(self, cwd: Optional[str] = None, session_id: Optional[str] = None, **controls: Any) -> Dict[str, Any]:
        """Creates a session; answers the REST JSON, so ``["session"]["sessionId"]`` works."""
        body: Dict[str, Any] = {k: v for k, v in controls.items() if v is not None}
        if cwd is not None:
            body["cwd"] = cwd
        if session_id is not None:
            body["sessionId"] = session_id
        return self._http.request("POST", "/sessions", body)

    def get(self, session_id: str) -> Dict[str, Any]:
        return self._http.request("GET", f"/sessions/{quote_segment(session_id)}")

    def delete(self, session_id: str) -> Dict[str, Any]:
        return self._http.request("DELETE", f"/sessions/{quote_segment(session_id)}")


class Schemas:
    """Typed settings: a JSON Schema (draft 2020-12) per top-level settings key,
    checked on every write. Changing them needs the admin role with auth on."""

    def __init__(self, http: HttpTransport):
        self._http = http

    def put(
        self, key: str, schema: Dict[str, Any], force: bool = False, actor: Optional[str] = None, source: Optional[str] = None
    ) -> Dict[str, Any]:
        """Registers (or replaces) ``key``'s schema: ``{"status", "key", "revision", "violations"}``.
        Raises ``SchemaViolatedError`` when stored values break it, unless ``force``; a schema
        that does not compile raises ``InvalidRequestError`` with its ``issues``."""
        body: Dict[str, Any] = {"schema": schema}
        if force:
            body["force"] = True
        return self._http.request("PUT", f"/schemas/{quote_segment(key)}", _provenance(body, actor, source, None))

    def get(self, key: str) -> Dict[str, Any]:
        """``{"key", "schema", "revision", "updatedAt", "actor", "source", "history"}``; ``NotFoundError`` without one."""
        return self._http.request("GET", f"/schemas/{quote_segment(key)}")

    def list(self) -> List[Dict[str, Any]]:
        """Every registered schema's ``{"key", "revision"}``."""
        return self._http.request("GET", "/schemas")["schemas"]

    def delete(self, key: str, actor: Optional[str] = None, source: Optional[str] = None) -> Dict[str, Any]:
        return self._http.request("DELETE", f"/schemas/{quote_segment(key)}", query={"actor": actor, "source": source})

    def violations(self, key: str, limit: Optional[int] = None) -> Dict[str, Any]:
        """The stored values of ``key`` that break its schema: ``{"count", "violations", "revision"}``."""
        return self._http.request("GET", f"/schemas/{quote_segment(key)}/violations", query={"limit": limit})


class SessionHandle:
    """One session: ``.settings`` and ``.controls``."""

    def __init__(self, http: HttpTransport, session_id: str):
        self.session_id = session_id
        self.settings = Settings(http, session_id)
        self.controls = Controls(http, session_id)


def _provenance(body: Dict[str, Any], actor: Optional[str], source: Optional[str], if_revision: Optional[int]) -> Dict[str, Any]:
    if actor is not None:
        body["actor"] = actor
    if source is not None:
        body["source"] = source
    if if_revision is not None:
        body["ifRevision"] = if_revision
    return body


class Settings:
    def __init__(self, http: HttpTransport, session_id: str):
        self._http = http
        self._path = f"/sessions/{quote_segment(session_id)}/settings"

    def get(self, scope: str = "session", key: Optional[str] = None) -> Dict[str, Any]:
        """The whole map (``["settings"]``) or one key (``["found"]``, ``["value"]``), with ``["revision"]``."""
        return self._http.request("GET", self._path, query={"scope": scope, "key": key})

    def set(
        self,
        scope: str = "session",
        settings: Optional[Dict[str, Any]] = None,
        mode: Optional[str] = None,
        key: Optional[str] = None,
        value: Any = _MISSING,
        actor: Optional[str] = None,
        source: Optional[str] = None,
        if_revision: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``settings=`` (with ``mode="merge"|"replace"``) or ``key=`` with ``value=``; ``value=None`` stores null."""
        body: Dict[str, Any] = {"scope": scope}
        if settings is not None:
            body["settings"] = settings
        if mode is not None:
            body["mode"] = mode
        if key is not None:
            body["key"] = key
        if value is not _MISSING:
            body["value"] = value
        return self._http.write("POST", self._path, _provenance(body, actor, source, if_revision), request_id=request_id)

    def unset(
        self,
        key: str,
        scope: str = "session",
        actor: Optional[str] = None,
        source: Optional[str] = None,
        if_revision: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        query = {"scope": scope, "actor": actor, "source": source, "ifRevision": if_revision}
        return self._http.write("DELETE", f"{self._path}/{quote_segment(key)}", query=query, request_id=request_id)

    def history(self, scope: str = "session", before: Optional[int] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        return self._http.request("GET", f"{self._path}/history", query={"scope": scope, "before": before, "limit": limit})

    def watch(
        self, scope: str = "session", from_revision: Optional[int] = None, include_settings: bool = False, timeout: float = 60.0
    ) -> Iterator[WatchEvent]:
        """Follows the scope's changes over Server-Sent Events: first a ``created`` event
        (the watch is established: no later change is missed), then one ``change`` per
        change, and ``heartbeat`` while idle. ``from_revision`` replays retained history
        after it first. A refused watch raises at once; a stream that fails later raises
        its typed error (``DeletedError`` when the session is deleted). ``timeout`` bounds
        each wait for data; heartbeats come at least every 30 s. Stop with ``.close()``
        or by leaving the loop."""
        query = {"scope": scope, "fromRevision": from_revision, "includeSettings": "true" if include_settings else None}
        return self._http.events(f"{self._path}/events", query, timeout)

    def namespace(self, path: Union[str, Sequence[str]], scope: str = "session") -> "Namespace":
        """A path inside one top-level key: a tuple of segments (``("team", "v1.2")``,
        any key can be reached) or a dotted string for keys without dots (``"team.review"``)."""
        return Namespace(self, path, scope)

    def _path_write(self, body: Dict[str, Any], request_id: Optional[str]) -> Dict[str, Any]:
        return self._http.write("POST", self._path, body, request_id=request_id)


class Namespace:
    """A path inside one top-level key. Writes are atomic on the server (the
    ``path`` operation), so concurrent writers of sibling paths never lose updates."""

    def __init__(self, settings: Settings, path: Union[str, Sequence[str]], scope: str):
        self._settings = settings
        self.path = path
        self.scope = scope
        self.segments: List[str] = path.split(".") if isinstance(path, str) else list(path)
        if not self.segments or not all(isinstance(s, str) for s in self.segments):
            raise TypeError("a namespace path is a dotted string or a non-empty sequence of strings")
        self._key, *self._inner = self.segments

    def get(self) -> Any:
        """The value at the path, or None when any part of it is missing."""
        value = self._settings.get(scope=self.scope, key=self._key).get("value")
        for segment in self._inner:
            if not isinstance(value, dict) or segment not in value:
                return None
            value = value[segment]
        return value

    def set(self, value: Any, actor: Optional[str] = None, source: Optional[str] = None, request_id: Optional[str] = None) -> Dict[str, Any]:
        return self._write("set", value, actor, source, request_id)

    def merge(
        self, value: Dict[str, Any], actor: Optional[str] = None, source: Optional[str] = None, request_id: Optional[str] = None
    ) -> Dict[str, Any]:
        return self._write("merge", value, actor, source, request_id)

    def unset(self, actor: Optional[str] = None, source: Optional[str] = None, request_id: Optional[str] = None) -> Dict[str, Any]:
        return self._write("unset", _MISSING, actor, source, request_id)

    def _write(self, op: str, value: Any, actor: Optional[str], source: Optional[str], request_id: Optional[str]) -> Dict[str, Any]:
        # A dotted string goes as given; segments go as an array, so keys with dots are exact.
        path = self.path if isinstance(self.path, str) else self.segments
        body: Dict[str, Any] = {"scope": self.scope, "path": path, "op": op}
        if value is not _MISSING:
            body["value"] = value
        return self._settings._path_write(_provenance(body, actor, source, None), request_id)


class Controls:
    def __init__(self, http: HttpTransport, session_id: str):
        self._http = http
        self._path = f"/sessions/{quote_segment(session_id)}/session-controls"

    def get(self) -> Dict[str, Any]:
        return self._http.request("GET", self._path)

    def apply(
        self,
        controls: Dict[str, Any],
        scope: str = "session",
        actor: Optional[str] = None,
        source: Optional[str] = None,
        if_revision: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Replaces the four controls; replaces settings only when ``controls`` has ``"settings"``."""
        body = {"scope": scope, "controls": controls}
        return self._http.write("POST", self._path, _provenance(body, actor, source, if_revision), request_id=request_id)
