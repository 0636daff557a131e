// Sessions, a page at a time, with create and delete.
import { useCallback, useEffect, useState } from "react";
import { describeError, sdk } from "./api.js";
import { internalLink, navigate } from "./navigation.js";
import { Loading } from "./Loading.js";

const PAGE = 20;

type Row = Awaited<ReturnType<typeof sdk.sessions.list>>["sessions"][number];

export function SessionList() {
  // Undefined while a page loads: an empty list would say there are no sessions.
  const [rows, setRows] = useState<Row[]>();
  const [tokens, setTokens] = useState<string[]>([""]);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<string>();
  const [cwd, setCwd] = useState("");
  const [busy, setBusy] = useState(false);
  const page = tokens.length - 1;

  const load = useCallback(async (token: string) => {
    try {
      const res = await sdk.sessions.list({ pageSize: PAGE, pageToken: token });
      setRows(res.sessions);
      setNext(res.nextPageToken);
      setError(undefined);
    } catch (err) {
      setError(describeError(err));
    }
  }, []);

  useEffect(() => {
    setRows(undefined);
    void load(tokens[tokens.length - 1]!);
  }, [load, tokens]);

  const create = async () => {
    setBusy(true);
    try {
      const { session } = await sdk.sessions.create({ cwd: cwd.trim() || undefined });
      navigate(`/sessions/${encodeURIComponent(session.sessionId)}`);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (sessionId: string) => {
    try {
      await sdk.sessions.delete(sessionId);
      await load(tokens[tokens.length - 1]!);
    } catch (err) {
      setError(describeError(err));
    }
  };

  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions</h1>
      {error && <div role="alert" className="banner error">{error}</div>}
      <form className="row" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <label>
          Working directory
          <input value={cwd} onChange={(e) => setCwd(e.target.value)} placeholder="/path/to/workspace" />
        </label>
        <button type="submit" disabled={busy}>Create session</button>
      </form>
      {rows === undefined ? (
        !error && <Loading />
      ) : rows.length === 0 ? (
        <p className="muted">No sessions on this page.</p>
      ) : (
        <ul className="sessions">
          {rows.map((s) => (
            <li key={s.sessionId}>
              <a {...internalLink(`/sessions/${encodeURIComponent(s.sessionId)}`)}>
                {s.sessionId}
              </a>
              <span className="muted">{s.cwd || "no cwd"} · {s.createdAt?.toLocaleString()}</span>
              <button type="button" className="danger" aria-label={`Delete session ${s.sessionId}`} onClick={() => void remove(s.sessionId)}>Delete</button>
            </li>
          ))}
        </ul>
      )}
      <nav className="row" aria-label="Pages">
        <button type="button" disabled={page === 0} onClick={() => setTokens((t) => t.slice(0, -1))}>Previous page</button>
        <span className="muted">Page {page + 1}</span>
        <button type="button" disabled={!next} onClick={() => next && setTokens((t) => [...t, next])}>Next page</button>
      </nav>
    </section>
  );
}
