"""Shared session settings from a Python workflow: the same values the web UI,
the CLI and other services see. Run against a live server:

    PYTHONPATH=clients/python python3 clients/python/examples/session_settings.py
"""

from codex_manager import CodexManager

with CodexManager.from_profile("local") as cm:
    session_id = cm.sessions.create(cwd=".")["session"]["sessionId"]
    chat = cm.session(session_id)

    # One top-level key.
    chat.settings.set(
        key="team",
        value={"definitionOfDone": "tests green + docs updated"},
        source="python-script",
    )

    # A nested namespace, merged atomically on the server.
    review = chat.settings.namespace("team.review")
    review.merge({"autoApprove": {"enabled": True, "threshold": "low"}})

    # Controls change; omitting "settings" keeps the settings map as it is.
    chat.controls.apply(
        controls={
            "model": None,
            "approvalPolicy": "on-request",
            "networkAccess": "restricted",
            "filesystemSandbox": "workspace-write",
        },
        scope="session",
        source="policy-update",
    )

    print(chat.settings.get(key="team"))
