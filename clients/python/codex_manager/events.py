"""Server-Sent Events as the settings events route sends them, parsed with the
standard library: ``event: created`` first, then ``change`` (whose id is its
revision) and ``heartbeat``; a stream that fails ends with ``event: error``."""

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional


@dataclass(frozen=True)
class WatchEvent:
    """``event``: "created", "change" or "heartbeat" ("error" never reaches a caller:
    it is raised). ``data``: the event's JSON: ``{"revision": n}`` for created and
    heartbeat, a history entry (plus ``settings`` when asked) for a change.
    ``id``: a change's revision, as text; None for the others."""

    event: str
    data: Dict[str, Any]
    id: Optional[str] = None


def parse_events(lines: Iterable[bytes]) -> Iterator[WatchEvent]:
    """The events in a stream of lines, as the SSE format defines them: fields until a
    blank line; comments and events without data are skipped."""
    event, data, event_id = "message", [], None  # type: str, List[str], Optional[str]
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield WatchEvent(event, json.loads("\n".join(data)), event_id)
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
