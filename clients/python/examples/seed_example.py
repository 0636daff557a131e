from codex_manager import CodexManager
with CodexManager.from_profile("local") as cm:
    session_id = cm.sessions.create(cwd=".")["session"]["sessionId"]
    chat = cm.session(session_id)
    # Merge one top-level key.
    chat.settings.set(
        key="team",
        value={"definitionOfDone": "tests green + docs updated"},
        source="python-script",
    )
    # Namespace ergonomics for nested data.
    policy = chat.settings.namespace("team.review")
    policy.merge({"autoApprove": {"enabled": True, "threshold": "low"}})
    # Replace the full settings map for this session scope.
    chat.settings.set(
        settings={
            "team": {
                "definitionOfDone": "tests green + docs updated",
                "review": {"autoApprove": {"enabled": False, "threshold": "low"}},
            }
        },
        mode="replace",
        source="python-script",
    )
    # Read one key and remove it.
    print(chat.settings.get(key="team"))
    chat.settings.unset("team")
    chat.controls.apply(
        controls={
            "model": None,
            "approvalPolicy": "on-request",
            "networkAccess": "restricted",
            "filesystemSandbox": "workspace-write",
            # Omit "settings" to preserve existing settings map.
        },
        scope="session",
        source="policy-update",
    )
