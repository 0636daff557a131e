// Three pages: the session list at "/", one session at "/sessions/<id>", and
// the activity of every session at "/activity" (./navigation.ts).
import { Component, useState, type ReactNode } from "react";
import { ActivityPage } from "./ActivityPage.js";
import { token } from "./api.js";
import { internalLink, usePath } from "./navigation.js";
import { SessionList } from "./SessionList.js";
import { SessionPage } from "./SessionPage.js";

/** Keeps the page from going blank on an unexpected rendering error. */
class ErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  override state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (this.state.error) {
      return (
        <div role="alert" className="banner error">
          Something went wrong: {this.state.error.message}. <a href="/">Back to sessions</a>
        </div>
      );
    }
    return this.props.children;
  }
}

/** Only needed when the service runs with AUTH_TOKENS_FILE; applies from the next call on. */
function TokenField() {
  const [value, setValue] = useState(token.get());
  return (
    <label className="token">
      Access token
      <input type="password" value={value} autoComplete="off" placeholder="only if required"
        onChange={(e) => { setValue(e.target.value); token.set(e.target.value.trim()); }} />
    </label>
  );
}

export function App() {
  const path = usePath();
  const match = /^\/sessions\/([^/]+)\/?$/.exec(path);
  const sessionId = match ? decodeURIComponent(match[1]!) : undefined;
  return (
    <div className="app">
      <header>
        <nav>
          <a {...internalLink("/")} className="brand">Session settings</a>
          <a {...internalLink("/activity")} className="nav-link">Activity</a>
        </nav>
        <TokenField />
      </header>
      <main>
        <ErrorBoundary key={path}>
          {sessionId ? <SessionPage sessionId={sessionId} /> : path === "/activity" ? <ActivityPage /> : <SessionList />}
        </ErrorBoundary>
      </main>
    </div>
  );
}
