// One session: its controls and settings in either scope, following
// WatchSettings live, with the history of recent changes.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { describeError, reasonOf, sdk, type JsonObject, type Scope, type SettingsChange, type Tuple } from "./api.js";
import { ControlsPanel } from "./ControlsPanel.js";
import { followLive, type LiveState } from "./follow.js";
import { HistoryPanel } from "./HistoryPanel.js";
import { Loading } from "./Loading.js";
import type { FieldSchema } from "./schema-check.js";
import { SettingsPanel } from "./SettingsPanel.js";

type View = Awaited<ReturnType<ReturnType<typeof sdk.session>["controls"]["get"]>>;

/** A session that has no page to show: only why, and the way back. */
function Missing({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section aria-labelledby="session-title" className="session">
      <h1 id="session-title">{title}</h1>
      <p>{children}</p>
      <p><a href="/">Back to sessions</a></p>
    </section>
  );
}

export function SessionPage({ sessionId }: { sessionId: string }) {
  const session = sdk.session(sessionId);
  const [scope, setScope] = useState<Scope>("session");
  const [view, setView] = useState<View>();
  const [tuple, setTuple] = useState<Tuple>();
  // view, tuple and history stay undefined until read, so nothing claims "empty" before it knows.
  const [history, setHistory] = useState<SettingsChange[]>();
  const [error, setError] = useState<string>();
  const [gone, setGone] = useState<{ reason: string; message: string }>();
  const [attempt, setAttempt] = useState(0);
  const [live, setLive] = useState<LiveState>("connecting");
  const [lastChange, setLastChange] = useState<SettingsChange>();
  const revision = useRef(0n);
  const [schemas, setSchemas] = useState<Record<string, FieldSchema>>({});

  // The namespaces with a JSON Schema get a form; without access to schemas, every namespace keeps the JSON editor.
  useEffect(() => {
    let current = true;
    sdk.schemas.list()
      .then((list) => Promise.all(list.map((s) => sdk.schemas.get(s.key))))
      .then((found) => current && setSchemas(Object.fromEntries(found.map((s) => [s.key, s.schema as FieldSchema]))))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [sessionId, attempt]);

  const fail = useCallback((err: unknown) => {
    const reason = reasonOf(err);
    if (reason === "SESSION_DELETED" || reason === "SESSION_NOT_FOUND" || reason === "SYSTEM_SESSION") setGone({ reason, message: describeError(err) });
    else setError(describeError(err));
  }, []);

  const loadView = useCallback(async () => {
    const v = await session.controls.get();
    setView(v);
    return v;
  }, [sessionId]);

  // Load the scope's tuple and history, then follow its changes from that revision on.
  useEffect(() => {
    const stop = new AbortController();
    let stopRetrying: (() => void) | undefined;
    // Another scope's data must not show, nor be edited, under this scope's name.
    setTuple(undefined);
    setHistory(undefined);
    setLastChange(undefined);
    (async () => {
      try {
        const v = await loadView();
        const t = scope === "default" ? v.defaults : v.session;
        setTuple(t);
        revision.current = t.revision;
        setHistory((await session.settings.history({ scope, limit: 20 })).entries);
      } catch (err) {
        fail(err);
        return;
      }
      stopRetrying = followLive(async (established) => {
        const changes = session.settings.watch({
          scope, fromRevision: revision.current, includeSettings: true, signal: stop.signal, onCreated: established,
        });
        for await (const change of changes) {
          revision.current = change.revision;
          setTuple((t) => t && { ...t, settings: change.settings ?? t.settings, revision: change.revision });
          setHistory((h) => [change, ...(h ?? [])].slice(0, 50));
          setLastChange(change);
          if (change.changes.some((c) => c.kind === "control")) {
            const v2 = await loadView();
            setTuple((t) => t && { ...(scope === "default" ? v2.defaults : v2.session), settings: t.settings, revision: t.revision });
          }
        }
      }, {
        signal: stop.signal,
        setLive,
        failed: (err) => {
          const reason = reasonOf(err);
          const gone = reason === "SESSION_DELETED" || reason === "SESSION_NOT_FOUND";
          if (gone) fail(err);
          return gone;
        },
      });
    })();
    return () => {
      stop.abort();
      stopRetrying?.();
    };
  }, [sessionId, scope, attempt]);

  const locked = scope === "default" && view !== undefined && !view.defaultsEditable;
  const editable = !gone && !locked;

  // Until the first data arrives, an unknown or system-owned session gets a page of its own and nothing else.
  if (!view && gone?.reason === "SESSION_NOT_FOUND") {
    return <Missing title="Session not found">No session has the id <code>{sessionId}</code>.</Missing>;
  }
  if (!view && gone?.reason === "SYSTEM_SESSION") {
    return <Missing title="Session owned by the system">The session <code>{sessionId}</code> is owned by the system and cannot be viewed or changed here.</Missing>;
  }
  const top = (
    <>
      <h1 id="session-title">Session <code>{sessionId}</code></h1>
      {gone && <div role="alert" className="banner gone">{gone.message} Its settings can no longer be changed. <a href="/">Back to sessions</a></div>}
      {error && (
        <div role="alert" className="banner error">
          {error}{" "}
          {view ? (
            <button type="button" className="link" onClick={() => setError(undefined)}>Dismiss</button>
          ) : (
            // Nothing has loaded, so dismissing would leave nothing: load again instead.
            <button type="button" className="link" onClick={() => { setError(undefined); setAttempt((n) => n + 1); }}>Try again</button>
          )}
        </div>
      )}
    </>
  );
  if (!view) {
    // No scope switch or live status yet: they would describe a session not known to exist.
    return <section aria-labelledby="session-title" className="session">{top}{!gone && !error && <Loading />}</section>;
  }

  return (
    <section aria-labelledby="session-title" className="session">
      {top}
      <div className="row toolbar">
        <fieldset className="scope">
          <legend>Applies to</legend>
          <label><input type="radio" name="scope" checked={scope === "session"} onChange={() => setScope("session")} /> This session</label>
          <label><input type="radio" name="scope" checked={scope === "default"} onChange={() => setScope("default")} /> New sessions default</label>
        </fieldset>
        <p className={`live-status ${live}`} aria-live="polite">
          {live === "live" ? "● Live" : live === "paused" ? "○ Live updates paused" : "○ Connecting"}
          {tuple && <> · revision <span data-testid="revision">{tuple.revision.toString()}</span></>}
          {lastChange && <> · last change by <strong data-testid="last-actor">{lastChange.actor}</strong> via {lastChange.source}</>}
        </p>
      </div>
      {locked && view && (
        <div className="banner lock" role="status">
          <span aria-hidden="true">🔒</span> New-session defaults are read-only: {view.defaultLockReason}
        </div>
      )}
      <div className="columns">
        {tuple && (
          <ControlsPanel
            key={`${scope}-controls`}
            tuple={tuple}
            scope={scope}
            editable={editable}
            onApply={async (controls) => {
              try {
                await session.controls.apply(controls, { scope, ifRevision: tuple.revision, source: "ui" });
                setError(undefined);
              } catch (err) {
                fail(err);
              }
            }}
          />
        )}
        {tuple && (
          <SettingsPanel
            key={`${scope}-settings`}
            settings={tuple.settings as JsonObject}
            revision={tuple.revision}
            scope={scope}
            editable={editable}
            session={session}
            schemas={schemas}
            onError={fail}
          />
        )}
        <HistoryPanel entries={history} />
      </div>
    </section>
  );
}
