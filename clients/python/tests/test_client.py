"""The Python client against a live server (started by `npm test`).

CODEX_MANAGER_API_BASE points at a server with the default scope editable,
CM_TEST_LOCKED_API_BASE at one with SESSION_DEFAULTS_LOCKED=true.
"""

import json
import os
import tempfile
import threading
import unittest
import uuid
from unittest import mock

from codex_manager import (
    CodexManager,
    ConflictError,
    DeletedError,
    InvalidRequestError,
    LockedError,
    NotFoundError,
    SystemSessionError,
    UnavailableError,
)
from codex_manager.config import config_path, load_profile

CONTROLS = {"model": None, "approvalPolicy": "on-request", "networkAccess": "restricted", "filesystemSandbox": "workspace-write"}


def new_session(cm, **kwargs):
    return cm.sessions.create(cwd="/work", session_id=f"py-{uuid.uuid4()}", **kwargs)["session"]["sessionId"]


class SettingsTest(unittest.TestCase):
    def setUp(self):
        self.cm = CodexManager.from_env()
        self.chat = self.cm.session(new_session(self.cm))

    def test_create_answers_the_rest_json(self):
        created = self.cm.sessions.create(cwd="/repo")
        self.assertEqual(created["session"]["cwd"], "/repo")
        self.assertIn("sessionControls", created["session"])
        self.assertEqual(self.cm.sessions.get(created["session"]["sessionId"])["session"]["cwd"], "/repo")

    def test_set_get_and_unset(self):
        res = self.chat.settings.set(key="team", value={"a": 1}, actor="py", source="test")
        self.assertEqual(res["status"], "ok")
        self.assertEqual(res["settings"], {"team": {"a": 1}})
        self.assertEqual(self.chat.settings.get(key="team")["value"], {"a": 1})
        self.chat.settings.set(settings={"b": 2})
        self.assertEqual(self.chat.settings.get()["settings"], {"team": {"a": 1}, "b": 2})
        self.chat.settings.set(settings={"only": True}, mode="replace")
        self.assertEqual(self.chat.settings.get()["settings"], {"only": True})
        removed = self.chat.settings.unset("only")
        self.assertTrue(removed["removed"])
        self.assertFalse(self.chat.settings.unset("only")["removed"])

    def test_an_explicit_none_value_is_stored_as_null(self):
        self.chat.settings.set(key="nothing", value=None)
        got = self.chat.settings.get(key="nothing")
        self.assertTrue(got["found"])
        self.assertIsNone(got["value"])

    def test_odd_keys_round_trip(self):
        for key in ["a/b", "q?", "#x", "50%", "sp ace", "d.o.t", "ключ"]:
            self.chat.settings.set(key=key, value=1)
            self.assertTrue(self.chat.settings.unset(key)["removed"], key)

    def test_namespace_get_set_merge_unset(self):
        ns = self.chat.settings.namespace("team.review")
        self.assertIsNone(ns.get())
        ns.set({"owner": "ana"})
        ns.merge({"autoApprove": {"enabled": True}})
        self.assertEqual(ns.get(), {"owner": "ana", "autoApprove": {"enabled": True}})
        self.assertEqual(self.chat.settings.namespace("team.review.owner").get(), "ana")
        self.chat.settings.namespace("team.review.owner").unset()
        self.assertEqual(ns.get(), {"autoApprove": {"enabled": True}})

    def test_namespace_by_segments_reaches_keys_with_dots(self):
        self.chat.settings.set(key="a.b", value={"keep": 1})
        self.chat.settings.namespace(("a.b", "c")).set(2)
        ns = self.chat.settings.namespace(("team", "v1.2"))
        ns.merge({"on": True})
        self.assertEqual(ns.get(), {"on": True})
        self.assertEqual(self.chat.settings.get()["settings"], {"a.b": {"keep": 1, "c": 2}, "team": {"v1.2": {"on": True}}})
        self.assertTrue(self.chat.settings.namespace(["a.b", "keep"]).unset()["removed"])
        self.assertEqual(self.chat.settings.get(key="a.b")["value"], {"c": 2})
        with self.assertRaises(TypeError):
            self.chat.settings.namespace(())

    def test_concurrent_namespace_merges_lose_nothing(self):
        ns = self.chat.settings.namespace("team.votes")
        errors = []

        def vote(i):
            try:
                CodexManager.from_env().session(self.chat.session_id).settings.namespace("team.votes").merge({f"v{i}": i})
            except Exception as err:  # noqa: BLE001 - collected and asserted below
                errors.append(err)

        threads = [threading.Thread(target=vote, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(ns.get(), {f"v{i}": i for i in range(40)})
        self.assertEqual(self.chat.settings.get()["revision"], 40)

    def test_controls_get_and_apply_keep_settings(self):
        self.chat.settings.set(key="keep", value=True)
        applied = self.chat.controls.apply(controls=CONTROLS, scope="session", actor="py", source="policy")
        self.assertEqual(applied["summary"], "default | on-request | restricted | workspace-write | settings:1")
        got = self.chat.controls.get()
        self.assertEqual(got["controls"]["approvalPolicy"], "on-request")
        self.assertEqual(got["controls"]["settings"], {"keep": True})
        self.assertTrue(got["defaultsEditable"])

    def test_history(self):
        self.chat.settings.set(key="k", value=1)
        self.chat.settings.set(key="k", value=2)
        entries = self.chat.settings.history(limit=1)["entries"]
        self.assertEqual([e["revision"] for e in entries], [2])


class ErrorsTest(unittest.TestCase):
    def setUp(self):
        self.cm = CodexManager.from_env()

    def test_not_found(self):
        with self.assertRaises(NotFoundError) as ctx:
            self.cm.session("py-missing-" + uuid.uuid4().hex).settings.get()
        self.assertEqual(ctx.exception.status, 404)
        self.assertEqual(ctx.exception.body["status"], "not_found")

    def test_deleted(self):
        sid = new_session(self.cm)
        self.cm.sessions.delete(sid)
        with self.assertRaises(DeletedError) as ctx:
            self.cm.session(sid).settings.set(key="k", value=1)
        self.assertEqual(ctx.exception.status, 410)
        self.assertIn("deletedAt", ctx.exception.body)

    def test_system_session(self):
        sid = new_session(self.cm, systemOwned=True)
        with self.assertRaises(SystemSessionError):
            self.cm.session(sid).controls.get()

    def test_conflict(self):
        chat = self.cm.session(new_session(self.cm))
        chat.settings.set(key="k", value=1)
        with self.assertRaises(ConflictError) as ctx:
            chat.settings.set(key="k", value=2, if_revision=0)
        self.assertEqual(ctx.exception.body["currentRevision"], 1)

    def test_invalid_request(self):
        chat = self.cm.session(new_session(self.cm))
        with self.assertRaises(InvalidRequestError) as ctx:
            chat.settings.set(key="k")
        self.assertTrue(ctx.exception.body["issues"])

    def test_locked(self):
        locked = CodexManager(base_url=os.environ["CM_TEST_LOCKED_API_BASE"])
        chat = locked.session(new_session(locked))
        with self.assertRaises(LockedError) as ctx:
            chat.settings.set(scope="default", key="k", value=1)
        self.assertEqual(ctx.exception.body["message"], "Managed by harness configuration")
        chat.settings.set(key="k", value=1)

    def test_unavailable(self):
        with self.assertRaises(UnavailableError):
            CodexManager(base_url="http://127.0.0.1:9", timeout=2).sessions.create()


class ProfileTest(unittest.TestCase):
    def test_profiles_come_from_the_shared_cli_config_file(self):
        with tempfile.TemporaryDirectory() as home:
            env = {"XDG_CONFIG_HOME": home, "CODEX_MANAGER_API_BASE": "", "CODEX_MANAGER_API_PREFIX": ""}
            with mock.patch.dict(os.environ, env):
                self.assertEqual(load_profile().base_url, "http://127.0.0.1:8080")
                path = config_path()
                path.parent.mkdir(parents=True)
                path.write_text(json.dumps({
                    "currentProfile": "remote",
                    "profiles": {
                        "local": {"baseUrl": "http://127.0.0.1:8080", "apiPrefix": "/api"},
                        "remote": {"baseUrl": "http://10.0.0.5:9000", "apiPrefix": "/v1/api"},
                    },
                }))
                self.assertEqual(load_profile().base_url, "http://10.0.0.5:9000")
                self.assertEqual(load_profile("local").api_prefix, "/api")
                with CodexManager.from_profile("remote") as cm:
                    self.assertEqual(cm.base_url, "http://10.0.0.5:9000")
                with self.assertRaises(ValueError):
                    load_profile("nope")
            with mock.patch.dict(os.environ, {**env, "CODEX_MANAGER_API_BASE": "http://override:1"}):
                self.assertEqual(CodexManager.from_profile("local").base_url, "http://override:1")


if __name__ == "__main__":
    unittest.main()


class AuthTest(unittest.TestCase):
    """Against a server with AUTH_TOKENS_FILE (CM_TEST_AUTH_API_BASE, tokens in CM_TEST_*_TOKEN)."""

    def setUp(self):
        self.base = os.environ["CM_TEST_AUTH_API_BASE"]

    def test_tokens_roles_and_typed_errors(self):
        from codex_manager import PermissionDeniedError, UnauthenticatedError

        with self.assertRaises(UnauthenticatedError) as ctx:
            CodexManager(base_url=self.base).sessions.create()
        self.assertEqual(ctx.exception.status, 401)
        writer = CodexManager(base_url=self.base, token=os.environ["CM_TEST_WRITE_TOKEN"])
        sid = new_session(writer)
        writer.session(sid).settings.set(key="k", value=1, actor="claimed")
        reader = CodexManager(base_url=self.base, token=os.environ["CM_TEST_READ_TOKEN"])
        self.assertEqual(reader.session(sid).settings.get(key="k")["value"], 1)
        with self.assertRaises(PermissionDeniedError):
            reader.session(sid).settings.set(key="k", value=2)
        entry = reader.session(sid).settings.history(limit=1)["entries"][0]
        self.assertEqual((entry["actor"], entry["claimedActor"]), ("py-writer", "claimed"))
        for name in ("CODEX_MANAGER_BEARER_TOKEN", "CODEX_MANAGER_API_TOKEN"):
            with mock.patch.dict(os.environ, {name: os.environ["CM_TEST_READ_TOKEN"]}):
                self.assertEqual(CodexManager(base_url=self.base).session(sid).settings.get()["revision"], 1, name)

    def test_profile_auth_bearer_and_headers(self):
        """codex-manager's profile fields: auth.bearer, and headers sent with every call."""
        import json
        import tempfile

        home = tempfile.mkdtemp()
        os.makedirs(os.path.join(home, "codex-manager", "cli"))
        profile = {"baseUrl": self.base, "apiPrefix": "/api", "auth": {"bearer": os.environ["CM_TEST_WRITE_TOKEN"]},
                   "headers": {"x-request-source": "profile", "": "dropped", "x-blank": "  "}}
        with open(os.path.join(home, "codex-manager", "cli", "config.json"), "w", encoding="utf-8") as f:
            json.dump({"currentProfile": "authed", "profiles": {"authed": profile}}, f)
        env = {"XDG_CONFIG_HOME": home, "CODEX_MANAGER_BEARER_TOKEN": "", "CODEX_MANAGER_API_TOKEN": "", "CODEX_MANAGER_API_BASE": ""}
        with mock.patch.dict(os.environ, env):
            cm = CodexManager.from_profile()
            self.assertEqual(cm._http.endpoint.headers, {"x-request-source": "profile"})
            sid = new_session(cm)
            cm.session(sid).settings.set(key="k", value=1)
            self.assertEqual(cm.session(sid).settings.history(limit=1)["entries"][0]["actor"], "py-writer")
