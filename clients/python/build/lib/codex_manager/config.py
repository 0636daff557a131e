"""Where the service is: codex-manager's CLI profile file, then environment overrides."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_API_PREFIX = "/api"


@dataclass(frozen=True)
class Endpoint:
    base_url: str = DEFAULT_BASE_URL
    api_prefix: str = DEFAULT_API_PREFIX


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
    return _with_env(
        Endpoint(
            base_url=profile.get("baseUrl") or DEFAULT_BASE_URL,
            api_prefix=profile.get("apiPrefix") or DEFAULT_API_PREFIX,
        )
    )


def from_environment() -> Endpoint:
    return _with_env(Endpoint())


def _with_env(endpoint: Endpoint) -> Endpoint:
    return Endpoint(
        base_url=os.environ.get("CODEX_MANAGER_API_BASE") or endpoint.base_url,
        api_prefix=os.environ.get("CODEX_MANAGER_API_PREFIX") or endpoint.api_prefix,
    )
