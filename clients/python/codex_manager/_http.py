"""JSON over HTTP with urllib; non-2xx answers become typed errors."""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

from .config import Endpoint
from .errors import UnavailableError, error_for


class HttpTransport:
    def __init__(self, endpoint: Endpoint, timeout: float = 30.0):
        self.endpoint = endpoint
        self.timeout = timeout

    def url(self, path: str, query: Optional[Dict[str, Any]] = None) -> str:
        base = self.endpoint.base_url.rstrip("/") + "/" + self.endpoint.api_prefix.strip("/")
        url = base.rstrip("/") + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        return url + ("?" + urllib.parse.urlencode(params) if params else "")

    def request(self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url(path, query), data=data, method=method)
        for name, value in self.endpoint.headers.items():
            req.add_header(name, value)
        req.add_header("accept", "application/json")
        if self.endpoint.bearer:
            # The bearer token wins over an Authorization header given in the profile, as in codex-manager.
            req.add_header("authorization", f"Bearer {self.endpoint.bearer}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return _decode(res.read())
        except urllib.error.HTTPError as err:
            raise error_for(err.code, _decode(err.read())) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise UnavailableError(503, {"status": "error", "code": "unavailable", "message": str(err)}) from None


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
