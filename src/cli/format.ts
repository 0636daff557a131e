// Human output shared by several commands.
import type { SchemaViolation, SettingsChange, SettingsIssue, Tuple } from "../client/index.js";

/** JSON for scripts: revisions are bigints in the SDK and plain numbers on the wire. */
export const stringify = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? Number(x) : x));

/** One scope's controls, as the service's `summary` spells them, with the revision. */
export const tupleLine = (name: string, t: Tuple) =>
  `${name}: ${t.model ?? "default"} | ${t.approvalPolicy} | ${t.networkAccess} | ${t.filesystemSandbox} | settings:${Object.keys(t.settings).length} (revision ${t.revision})`;

// A key is any string of up to 240 characters: quote the ones that would blur the list.
const keyText = (key: string) => (/^[\w.:/@-]+$/.test(key) ? key : JSON.stringify(key));

/** One history entry on one line: revision, time, op, actor, source, the changed keys. */
export const changeLine = (e: SettingsChange) =>
  `#${e.revision} ${e.time.toISOString()} ${e.op} by ${e.actor} via ${e.source}: ${e.changes.map((c) => keyText(c.key)).join(", ") || "-"}`;

/** A human page: its rows, or `none`; then, when there is a next page, the option that fetches it. */
export function pageText(rows: string[], none: string, option: string, next: string | bigint | undefined): string {
  const more = next === undefined || next === "" ? [] : [`more: ${option} ${next}`];
  return [...(rows.length ? rows : [none]), ...more].join("\n");
}

/** After a write's human line: said when the service answered an earlier try's result (same request id). */
export const replayedNote = (r: { replayed: boolean }) => (r.replayed ? " (the result of an earlier try with this request id)" : "");

/** One issue: a schema issue by its JSON Pointer and keyword, any other by its field. */
export const issueLine = (i: SettingsIssue) => (i.pointer !== undefined ? `${i.pointer}: ${i.message} (${i.keyword})` : `${i.path}: ${i.message}`);

/** One scope whose stored value breaks a schema, then each of its issues. */
export const violationLines = (v: SchemaViolation) => [
  `${v.scope === "default" ? "default scope" : `session ${v.sessionId}`}:`,
  ...v.issues.map((i) => `  ${issueLine(i)}`),
];
