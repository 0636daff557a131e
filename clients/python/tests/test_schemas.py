"""Typed settings through the Python client, against a live server (started by `npm test`):
schemas registered, read, listed and removed; a write a schema refuses raises
InvalidRequestError whose ``issues`` say where (JSON Pointer), what and which keyword;
registering over values that break it raises SchemaViolatedError, unless forced."""

import unittest
import uuid

from codex_manager import CodexManager, InvalidRequestError, Issue, NotFoundError, SchemaViolatedError

SCHEMA = {
    "type": "object",
    "properties": {
        "review": {
            "type": "object",
            "properties": {
                "autoApprove": {
                    "type": "object",
                    "properties": {"enabled": {"type": "boolean"}, "threshold": {"type": "integer", "maximum": 100}},
                    "required": ["enabled"],
                }
            },
        }
    },
}


class SchemasTest(unittest.TestCase):
    def setUp(self):
        self.cm = CodexManager.from_env()
        self.key = f"team-{uuid.uuid4().hex[:8]}"
        self.chat = self.cm.session(self.cm.sessions.create(cwd="/work")["session"]["sessionId"])

    def tearDown(self):
        self.cm.schemas.delete(self.key)

    def test_a_refused_write_lists_each_issue_with_its_pointer_and_keyword(self):
        put = self.cm.schemas.put(self.key, SCHEMA, actor="py", source="test")
        self.assertEqual((put["status"], put["key"], put["violations"]), ("ok", self.key, 0))
        with self.assertRaises(InvalidRequestError) as caught:
            self.chat.settings.namespace(f"{self.key}.review.autoApprove").merge({"enabled": "yes", "threshold": 101})
        at = f"/{self.key}/review/autoApprove"
        self.assertEqual(
            caught.exception.issues,
            [Issue(f"{at}/enabled", "must be boolean", "type"), Issue(f"{at}/threshold", "must be <= 100", "maximum")],
        )
        self.assertFalse(self.chat.settings.get(key=self.key)["found"])
        # Other invalid requests keep their field paths and codes.
        with self.assertRaises(InvalidRequestError) as blank:
            self.chat.settings.set(key=" ", value=1)
        self.assertEqual(blank.exception.issues, [Issue(["key"], "must not be blank", None, "too_small")])

    def test_registering_over_breaking_values_raises_unless_forced(self):
        self.chat.settings.set(key=self.key, value={"review": {"autoApprove": {"threshold": 500}}})
        with self.assertRaises(SchemaViolatedError) as caught:
            self.cm.schemas.put(self.key, SCHEMA)
        self.assertEqual(caught.exception.count, 1)
        self.assertEqual(caught.exception.status, 409)
        (offender,) = caught.exception.violations
        self.assertEqual(offender["sessionId"], self.chat.session_id)
        self.assertEqual([i.keyword for i in offender["issues"]], ["required", "maximum"])
        with self.assertRaises(NotFoundError):
            self.cm.schemas.get(self.key)
        forced = self.cm.schemas.put(self.key, SCHEMA, force=True)
        self.assertEqual(forced["violations"], 1)
        self.assertEqual(self.cm.schemas.violations(self.key)["count"], 1)
        got = self.cm.schemas.get(self.key)
        self.assertEqual((got["schema"], got["revision"], got["history"][0]["forced"]), (SCHEMA, forced["revision"], True))
        self.assertIn({"key": self.key, "revision": forced["revision"]}, self.cm.schemas.list())


if __name__ == "__main__":
    unittest.main()
