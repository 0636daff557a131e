"""One write with the Python client, for test/clients-retry-python.test.ts,
which points it at a proxy in front of a server whose Redis it freezes or
kills. Prints the answer, or the error's type, status and request id, as JSON.

    retry_probe.py <base_url> <session_id> <write> <retry|no-retry> [request_id]
"""

import json
import sys

from codex_manager import CodexManager, CodexManagerError

CONTROLS = {"model": None, "approvalPolicy": "never", "networkAccess": "enabled", "filesystemSandbox": "read-only"}


def main(base_url, session_id, write, retry, request_id=None):
    chat = CodexManager(base_url=base_url, retry_writes=retry == "retry").session(session_id)
    writes = {
        "set": lambda: chat.settings.set(key="k", value="v", source="py-retry", request_id=request_id),
        "merge": lambda: chat.settings.namespace("team.review").merge({"owner": "ana"}, request_id=request_id),
        "unset": lambda: chat.settings.unset("k", request_id=request_id),
        "apply": lambda: chat.controls.apply(controls=CONTROLS, source="py-retry", request_id=request_id),
        "conflict": lambda: chat.settings.set(key="k", value="v", if_revision=99, request_id=request_id),
        "invalid": lambda: chat.settings.set(key=" ", value="v", request_id=request_id),
    }
    try:
        print(json.dumps({"answer": writes[write]()}))
    except CodexManagerError as err:
        print(json.dumps({"error": type(err).__name__, "status": err.status, "requestId": err.request_id}))


if __name__ == "__main__":
    main(*sys.argv[1:])
