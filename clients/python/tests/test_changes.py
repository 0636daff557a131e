"""The store-wide change feed from Python: list every scope, follow every change
after the listing's cursor, filter by key, resume by itself after a cursor."""

import unittest
import uuid

from codex_manager import CodexManager, HistoryTruncatedError


def take(feed, count, session_id):
    """The next ``count`` changes of one session (other tests write meanwhile)."""
    got = []
    for event in feed:
        if event.data["sessionId"] == session_id:
            got.append(event)
            if len(got) == count:
                return got
    return got


class ChangesTest(unittest.TestCase):
    def setUp(self):
        self.cm = CodexManager.from_env()
        self.session_id = f"py-feed-{uuid.uuid4()}"

    def feed(self, **kwargs):
        feed = self.cm.changes(**kwargs)
        self.addCleanup(feed.close)
        return feed

    def test_list_then_follow_every_change_after_the_listing(self):
        page = self.cm.list_settings(page_size=1)
        self.assertEqual(page["items"][0]["scope"], "default")
        feed = self.feed(after=page["cursor"])
        self.cm.sessions.create(session_id=self.session_id)
        self.cm.session(self.session_id).settings.set(key="team", value={"lead": "ana"}, source="py-feed")
        created, changed = take(feed, 2, self.session_id)
        self.assertEqual(created.data["kind"], "session_created")
        self.assertEqual(changed.data["kind"], "settings")
        self.assertEqual(changed.data["entry"]["source"], "py-feed")
        self.assertEqual(changed.id, changed.data["cursor"])
        self.assertEqual(feed.cursor, changed.id)

    def test_keys_filter_and_resume_after_a_cursor(self):
        self.cm.sessions.create(session_id=self.session_id)
        chat = self.cm.session(self.session_id)
        feed = self.feed(keys=["watched"])
        chat.settings.set(key="other", value=1)
        chat.settings.set(key="watched", value=1)
        [first] = take(feed, 1, self.session_id)
        self.assertEqual(first.data["revision"], 2)
        feed.close()
        chat.settings.set(key="watched", value=2)
        [resumed] = take(self.feed(after=first.id, keys=["watched"]), 1, self.session_id)
        self.assertEqual(resumed.data["revision"], 3)

    def test_a_cursor_the_feed_no_longer_holds_raises(self):
        # The test server keeps FEED_LIMIT=50 changes: these push the first ones out.
        self.cm.sessions.create(session_id=self.session_id)
        for n in range(60):
            self.cm.session(self.session_id).settings.set(key="n", value=n)
        with self.assertRaises(HistoryTruncatedError) as ctx:
            next(iter(self.feed(after="1.0")))
        self.assertIn("oldestCursor", ctx.exception.body)


if __name__ == "__main__":
    unittest.main()
