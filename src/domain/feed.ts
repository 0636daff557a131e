// The change feed's cursors and kinds. A cursor names a place in the feed:
// for each shard, the last position taken (one shard, "", outside Redis
// Cluster). Clients treat it as opaque; it is URL- and header-safe, and
// within one shard later changes have greater positions.
import { errors, issue } from "./errors.js";
import type { ChangeKind, FeedPosition, HistoryOp } from "./types.js";

/** shard -> the last sequence number taken in it. */
export type FeedCursor = Map<string, bigint>;

const VERSION = "1";
const SHARD = /^[A-Za-z0-9_-]{0,64}$/;

export function encodeCursor(cursor: FeedCursor): string {
  const parts = [...cursor].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([shard, seq]) => (shard === "" ? `${seq}` : `${shard}~${seq}`));
  return [VERSION, ...parts].join(".");
}

/** Throws INVALID_REQUEST (naming `where`) for a cursor this server never made. */
export function decodeCursor(text: string, where = "after"): FeedCursor {
  const [version, ...parts] = text.split(".");
  const cursor: FeedCursor = new Map();
  const bad = () => errors.invalid([issue(where, "is not a cursor this service gave out", "invalid_format")]);
  if (version !== VERSION || parts.length === 0) throw bad();
  for (const part of parts) {
    const tilde = part.lastIndexOf("~");
    const shard = tilde < 0 ? "" : part.slice(0, tilde);
    const seq = tilde < 0 ? part : part.slice(tilde + 1);
    if (!SHARD.test(shard) || !/^\d{1,19}$/.test(seq) || cursor.has(shard)) throw bad();
    cursor.set(shard, BigInt(seq));
  }
  return cursor;
}

/** The cursor after `position` is taken, from `cursor`. */
export function advance(cursor: FeedCursor, position: FeedPosition): FeedCursor {
  const next = new Map(cursor);
  next.set(position.shard, position.seq);
  return next;
}

/** Whether a change at `position` comes after `cursor` (a shard the cursor does not know starts at 0). */
export function isAfter(position: FeedPosition, cursor: FeedCursor): boolean {
  return position.seq > (cursor.get(position.shard) ?? 0n);
}

export function changeKindOf(op: HistoryOp): ChangeKind {
  switch (op) {
    case "create":
      return "session_created";
    case "delete":
      return "session_deleted";
    case "controls":
      return "controls";
    default:
      return "settings";
  }
}
