// Recent changes, newest first, each with who made it and before/after values.
import type { SettingsChange } from "./api.js";
import { Loading } from "./Loading.js";

const show = (v: unknown) => (v === undefined ? "—" : JSON.stringify(v));

/** `entries` is undefined until the history has been read. */
export function HistoryPanel({ entries }: { entries: SettingsChange[] | undefined }) {
  return (
    <section className="panel history" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {entries === undefined ? <Loading /> : entries.length === 0 ? <p className="muted">No changes yet.</p> : (
        <ol>
          {entries.map((e) => (
            <li key={e.revision.toString()}>
              <div><strong>#{e.revision.toString()}</strong> {e.op} by <strong>{e.actor}</strong> via {e.source} · <time dateTime={e.time.toISOString()}>{e.time.toLocaleTimeString()}</time></div>
              <ul>
                {e.changes.map((c) => (
                  <li key={`${c.kind}:${c.key}`}><code>{c.key}</code>: <span className="before">{show(c.before)}</span> → <span className="after">{show(c.after)}</span></li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
