// What a view shows until its first data arrives, instead of an empty state
// that would claim there is nothing.
export function Loading() {
  return <p className="muted" role="status">Loading…</p>;
}
