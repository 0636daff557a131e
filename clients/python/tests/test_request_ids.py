"""Idempotency keys on writes, against a live server. What happens when the
store fails under a write (503, 504, and the one retry) is tested with a real
frozen or killed Redis in test/clients-retry-rest.test.ts."""

import unittest
import uuid

from codex_manager import CodexManager, InvalidRequestError, UnavailableError

CONTROLS = {"model": None, "approvalPolicy": "never", "networkAccess": "enabled", "filesystemSandbox": "read-only"}


class RequestIdTest(unittest.TestCase):
    def setUp(self):
        self.cm = CodexManager.from_env()
        session_id = self.cm.sessions.create(session_id=f"py-rid-{uuid.uuid4()}")["session"]["sessionId"]
        self.chat = self.cm.session(session_id)

    def revisions(self):
        return [e["revision"] for e in self.chat.settings.history(limit=50)["entries"]]

    def test_a_write_sent_twice_with_one_request_id_is_applied_once(self):
        rid = str(uuid.uuid4())
        writes = [
            lambda: self.chat.settings.set(key="k", value=1, request_id=rid),
            lambda: self.chat.settings.namespace("team.review").merge({"owner": "ana"}, request_id=rid + "-ns"),
            lambda: self.chat.controls.apply(controls=CONTROLS, request_id=rid + "-c"),
            lambda: self.chat.settings.unset("k", request_id=rid + "-u"),
        ]
        for write in writes:
            first = write()
            self.assertEqual(write(), first)
        self.assertEqual(self.revisions(), [4, 3, 2, 1])

    def test_without_a_request_id_each_write_gets_its_own(self):
        self.chat.settings.set(key="k", value=1)
        self.chat.settings.set(key="k", value=1)  # unchanged: a new id, so not a replay, and nothing recorded
        self.chat.settings.set(key="k", value=2)
        self.assertEqual(self.revisions(), [2, 1])

    def test_an_id_reused_for_another_write_is_refused_and_the_error_names_it(self):
        rid = str(uuid.uuid4())
        self.chat.settings.set(key="k", value=1, request_id=rid)
        with self.assertRaises(InvalidRequestError) as ctx:
            self.chat.settings.set(key="k", value=2, request_id=rid)
        self.assertEqual(ctx.exception.request_id, rid)

    def test_a_failed_write_carries_its_request_id(self):
        cm = CodexManager(base_url="http://127.0.0.1:9", timeout=2, retry_writes=False)
        with self.assertRaises(UnavailableError) as ctx:
            cm.session("x").settings.set(key="k", value=1)
        uuid.UUID(ctx.exception.request_id)


if __name__ == "__main__":
    unittest.main()
