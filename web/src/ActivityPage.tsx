// Activity: every change across all sessions (and the new-session defaults),
// live from the store-wide change feed, newest first, with who made it, from
// where and when, and a link to each session. "● Live" shows once the
// service has established the watch; when it breaks, the page says so and
// follows again from the last change it showed, missing nothing.
import { useEffect, useRef, useState } from "react";
import { describeError, sdk, type FeedChange } from "./api.js";
import { followLive, type LiveState } from "./follow.js";
import { internalLink } from "./navigation.js";

/** Changes kept on the page; older ones fall off the end. */
const KEEP = 200;

const show = (v: unknown) => (v === undefined ? "—" : JSON.stringify(v));
const KIND_TEXT: Record<FeedChange["kind"], string> = {
  session_created: "created",
  session_deleted: "deleted",
  settings: "settings",
  controls: "controls",
};

export function ActivityPage() {
  const [changes, setChanges] = useState<FeedChange[]>([]);
  const [live, setLive] = useState<LiveState>("connecting");
  const [error, setError] = useState<string>();
  const cursor = useRef<string | undefined>(undefined);

  useEffect(() => {
    const stop = new AbortController();
    const stopRetrying = followLive(async (established) => {
      const feed = sdk.changes.watch({
        after: cursor.current,
        signal: stop.signal,
        onCreated: ({ cursor: at }) => {
          cursor.current ??= at;
          setError(undefined);
          established();
        },
        onHeartbeat: ({ cursor: at }) => (cursor.current = at),
      });
      for await (const change of feed) {
        cursor.current = change.cursor;
        setChanges((shown) => [change, ...shown].slice(0, KEEP));
      }
    }, {
      signal: stop.signal,
      setLive,
      failed: (err) => (setError(describeError(err)), false),
    });
    return () => {
      stop.abort();
      stopRetrying();
    };
  }, []);

  return (
    <section className="panel activity" aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      <p className={`live-status ${live}`} role="status">
        {live === "live" ? "● Live" : live === "paused" ? "○ Live updates paused" : "○ Connecting"}
      </p>
      {error && <div role="alert" className="banner error">{error}</div>}
      {changes.length === 0 ? <p className="muted">No changes since this page opened.</p> : (
        <ol className="changes">
          {changes.map((c) => (
            <li key={c.cursor}>
              <div>
                {c.scope === "default" ? <strong>New-session defaults</strong> : c.kind === "session_deleted" ? <code>{c.sessionId}</code> : (
                  <a {...internalLink(`/sessions/${encodeURIComponent(c.sessionId)}`)}><code>{c.sessionId}</code></a>
                )}{" "}
                <span className="kind">{KIND_TEXT[c.kind]}</span> #{c.revision.toString()} by <strong>{c.entry.actor}</strong> via {c.entry.source} ·{" "}
                <time dateTime={c.entry.time.toISOString()}>{c.entry.time.toLocaleTimeString()}</time>
              </div>
              {c.entry.changes.length > 0 && (
                <ul>
                  {c.entry.changes.map((ch) => (
                    <li key={`${ch.kind}:${ch.key}`}><code>{ch.key}</code>: <span className="before">{show(ch.before)}</span> → <span className="after">{show(ch.after)}</span></li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
