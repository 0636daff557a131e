"""JSON over HTTP(S) with urllib; non-2xx answers become typed errors. Writes
carry an Idempotency-Key and are sent once more, with the same key, when the
answer says they were not applied (503, unreachable) or may have been (504).
A call refused for the caller's rate limit (429 ``rate_limited``: nothing
applied) is sent once more after its Retry-After."""

import json
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from .config import Endpoint
from .errors import CodexManagerError, OutcomeUnknownError, RateLimitedError, UnavailableError, error_for

#: A client certificate: one PEM file holding the certificate and its key, or (certificate file, key file).
ClientCert = Union[str, Tuple[str, str]]

# The longest Retry-After the client sits out by itself; a longer one is the caller's to decide.
MAX_RETRY_AFTER = 30.0


def tls_context(ca_file: Optional[str] = None, cert: Optional[ClientCert] = None) -> Optional[ssl.SSLContext]:
    """For https: trust ``ca_file`` (PEM) instead of the system's CAs, and present ``cert``
    to a service that asks for a client certificate. None when neither is given."""
    if ca_file is None and cert is None:
        return None
    context = ssl.create_default_context(cafile=ca_file)
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context
from .events import WatchEvent, parse_events


class HttpTransport:
    def __init__(self, endpoint: Endpoint, timeout: float = 30.0, retry_writes: bool = True, tls: Optional[ssl.SSLContext] = None):
        self.endpoint = endpoint
        self.timeout = timeout
        self.retry_writes = retry_writes
        self.tls = tls

    def url(self, path: str, query: Optional[Dict[str, Any]] = None) -> str:
        base = self.endpoint.base_url.rstrip("/") + "/" + self.endpoint.api_prefix.strip("/")
        url = base.rstrip("/") + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        return url + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Optional[Dict[str, Any]] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        with self._open(method, path, body, query, headers, self.timeout) as res:
            try:
                return _decode(res.read())
            except (TimeoutError, ConnectionError, ssl.SSLError) as err:
                raise _unreachable(err) from None

    def write(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Optional[Dict[str, Any]] = None,
        request_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """One logical write: one Idempotency-Key (a random UUID unless given), and one
        retry with it on 503/unreachable or 504. The service remembers the key, so a
        retry answers the first try's result and nothing is applied twice."""
        key = request_id or str(uuid.uuid4())
        headers = {"Idempotency-Key": key}
        try:
            try:
                return self.request(method, path, body, query, headers)
            except (UnavailableError, OutcomeUnknownError):
                if not self.retry_writes:
                    raise
                # A little jitter, so that clients refused together do not all come back at once.
                time.sleep(random.uniform(0.05, 0.15))
                return self.request(method, path, body, query, headers)
        except CodexManagerError as err:
            err.request_id = key
            raise

    def events(self, path: str, query: Dict[str, Any], timeout: float) -> Iterator[WatchEvent]:
        """Opens a Server-Sent Events stream now (so a refused watch raises here), and
        answers its events; ``event: error`` raises the typed error it carries."""
        res = self._open("GET", path, None, query, {"accept": "text/event-stream"}, timeout)
        return _follow(res)

    def _open(self, method: str, path: str, body: Any, query: Optional[Dict[str, Any]], headers: Optional[Dict[str, str]], timeout: float):
        try:
            return self._send(method, path, body, query, headers, timeout)
        except RateLimitedError as err:
            if not self.retry_writes or err.retry_after > MAX_RETRY_AFTER:
                raise
            time.sleep(err.retry_after + random.uniform(0, 0.1))
            return self._send(method, path, body, query, headers, timeout)

    def _send(self, method: str, path: str, body: Any, query: Optional[Dict[str, Any]], headers: Optional[Dict[str, str]], timeout: float):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url(path, query), data=data, method=method)
        for name, value in self.endpoint.headers.items():
            req.add_header(name, value)
        req.add_header("accept", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if self.endpoint.bearer:
            # The bearer token wins over an Authorization header given in the profile, as in codex-manager.
            req.add_header("authorization", f"Bearer {self.endpoint.bearer}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            return urllib.request.urlopen(req, timeout=timeout, context=self.tls)
        except urllib.error.HTTPError as err:
            raise error_for(err.code, _decode(err.read()), err.headers) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError) as err:
            # ssl.SSLError: with TLS 1.3 a refused client certificate is told after the handshake, on the first read.
            raise _unreachable(err) from None


def _follow(res: Any) -> Iterator[WatchEvent]:
    with res:
        try:
            for event in parse_events(res):
                if event.event == "error":
                    raise error_for(int(event.data.get("httpStatus", 500)), event.data)
                yield event
        except (TimeoutError, ConnectionError, ssl.SSLError) as err:
            raise _unreachable(err) from None


def _unreachable(err: BaseException) -> UnavailableError:
    return UnavailableError(503, {"status": "error", "code": "unavailable", "message": str(err)})


def _decode(raw: bytes) -> Dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        return {"message": raw.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}


def quote_segment(segment: str) -> str:
    """One path segment, with every reserved character (including "/") encoded."""
    return urllib.parse.quote(segment, safe="")
