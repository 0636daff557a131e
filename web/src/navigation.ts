// Pages have addresses of their own ("/", "/activity", "/sessions/<id>"), so
// a link can be shared; moving between them uses the History API.
import { useEffect, useState } from "react";

export function navigate(path: string): void {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  return path;
}

/** A link that moves within the panel without reloading it. */
export function internalLink(path: string) {
  return {
    href: path,
    onClick: (e: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean }) => {
      if (e.metaKey || e.ctrlKey) return; // a new tab, as the browser does it
      e.preventDefault();
      navigate(path);
    },
  };
}
