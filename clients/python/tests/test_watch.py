"""Watching a scope over Server-Sent Events, against a live server whose
heartbeats are frequent (WATCH_HEARTBEAT_MS, set by test/python-client.test.ts)."""

import itertools
import unittest
import uuid

from codex_manager import CodexManager, DeletedError, NotFoundError, WatchEvent
from codex_manager.events import parse_events


def changes(events, count):
    """The next ``count`` events that are not heartbeats."""
    return list(itertools.islice((e for e in events if e.event != "heartbeat"), count))


class WatchTest(unittest.TestCase):
    def setUp(self):
        self.cm = CodexManager.from_env()
        self.session_id = self.cm.sessions.create(session_id=f"py-watch-{uuid.uuid4()}")["session"]["sessionId"]
        self.chat = self.cm.session(self.session_id)

    def watch(self, **kwargs):
        events = self.chat.settings.watch(**kwargs)
        self.addCleanup(events.close)
        return events

    def test_created_comes_first_then_each_change(self):
        self.chat.settings.set(key="a", value=1)
        events = self.watch(include_settings=True)
        self.assertEqual(next(events), WatchEvent("created", {"revision": 1}, None))
        # Established: a write made now cannot be missed.
        self.chat.settings.set(key="b", value=2, actor="py-watch", source="test")
        [change] = changes(events, 1)
        self.assertEqual((change.event, change.id), ("change", "2"))
        self.assertEqual(change.data["actor"], "py-watch")
        self.assertEqual(change.data["changes"], [{"kind": "setting", "key": "b", "after": 2}])
        self.assertEqual(change.data["settings"], {"a": 1, "b": 2})

    def test_replays_retained_history_from_a_revision(self):
        self.chat.settings.set(key="a", value=1)
        self.chat.settings.namespace("team.review").merge({"owner": "ana"})
        seen = changes(self.watch(from_revision=0), 3)
        self.assertEqual([(e.event, e.id) for e in seen], [("created", None), ("change", "1"), ("change", "2")])
        self.assertEqual(seen[2].data["path"], {"segments": ["team", "review"], "op": "merge"})

    def test_heartbeats_carry_the_current_revision(self):
        events = self.watch()
        next(events)
        self.assertEqual(next(events), WatchEvent("heartbeat", {"revision": 0}, None))

    def test_a_deleted_session_ends_the_stream_with_its_typed_error(self):
        events = self.watch()
        next(events)
        self.cm.sessions.delete(self.session_id)
        with self.assertRaises(DeletedError) as ctx:
            for _ in events:
                pass
        self.assertEqual(ctx.exception.status, 410)
        self.assertEqual(ctx.exception.body["sessionId"], self.session_id)

    def test_a_refused_watch_raises_at_once(self):
        with self.assertRaises(NotFoundError):
            self.cm.session(f"py-missing-{uuid.uuid4()}").settings.watch()


class ParseEventsTest(unittest.TestCase):
    def test_fields_comments_and_multi_line_data(self):
        lines = [b"retry: 2000\n", b"\n", b": a comment\n", b"event: change\n", b"id: 3\n", b'data: {"a":\n', b"data:1}\r\n", b"\n"]
        self.assertEqual(list(parse_events(lines)), [WatchEvent("change", {"a": 1}, "3")])


if __name__ == "__main__":
    unittest.main()
