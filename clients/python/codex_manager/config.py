"""Where the service is and how to authenticate: codex-manager's CLI profile
file, then environment overrides. The names are codex-manager's own:
``auth.bearer`` and ``headers`` in a profile, ``CODEX_MANAGER_BEARER_TOKEN``
in the environment (``CODEX_MANAGER_API_TOKEN`` is kept as an older alias)."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_API_PREFIX = "/api"


@dataclass(frozen=True)
class Endpoint:
    base_url: str = DEFAULT_BASE_URL
    api_prefix: str = DEFAULT_API_PREFIX
    bearer: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)


def config_path() -> Path:
    root = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(root) / "codex-manager" / "cli" / "config.json"


def load_profile(name: Optional[str] = None) -> Endpoint:
    """The named profile (or ``currentProfile``) from the shared config file, if any."""
    path = config_path()
    if not path.exists():
        if name not in (None, "local"):
            raise ValueError(f"no profile {name!r}: {path} does not exist")
        return _with_env(Endpoint())
    data = json.loads(path.read_text(encoding="utf-8"))
    profiles = data.get("profiles") or {}
    chosen = name or data.get("currentProfile") or "local"
    if chosen not in profiles:
        if name is None and not profiles:
            return _with_env(Endpoint())
        raise ValueError(f"no profile {chosen!r} in {path}")
    profile = profiles[chosen] or {}
    auth = profile.get("auth") or {}
    headers = profile.get("headers") or {}
    return _with_env(
        Endpoint(
            base_url=profile.get("baseUrl") or DEFAULT_BASE_URL,
            api_prefix=profile.get("apiPrefix") or DEFAULT_API_PREFIX,
            bearer=auth.get("bearer") or None,
            # As codex-manager does: only entries whose name and value are non-blank strings.
            headers={k: v for k, v in headers.items() if isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip()},
        )
    )


def from_environment() -> Endpoint:
    return _with_env(Endpoint())


def _with_env(endpoint: Endpoint) -> Endpoint:
    env = os.environ
    return Endpoint(
        base_url=env.get("CODEX_MANAGER_API_BASE") or endpoint.base_url,
        api_prefix=env.get("CODEX_MANAGER_API_PREFIX") or endpoint.api_prefix,
        bearer=env.get("CODEX_MANAGER_BEARER_TOKEN") or env.get("CODEX_MANAGER_API_TOKEN") or endpoint.bearer,
        headers=endpoint.headers,
    )
