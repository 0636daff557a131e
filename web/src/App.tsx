// Two pages: the session list at "/" and one session at "/sessions/<id>", so
// a link to a session can be shared. Navigation uses the History API.
import { Component, useEffect, useState, type ReactNode } from "react";
import { token } from "./api.js";
import { SessionList } from "./SessionList.js";
import { SessionPage } from "./SessionPage.js";

export function navigate(path: string): void {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  return path;
}

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
        <a href="/" onClick={(e) => { e.preventDefault(); navigate("/"); }} className="brand">Session settings</a>
        <TokenField />
      </header>
      <main>
        <ErrorBoundary key={path}>{sessionId ? <SessionPage sessionId={sessionId} /> : <SessionList />}</ErrorBoundary>
      </main>
    </div>
  );
}
