// What a session's state means for a call that names it (SPEC §2, §4 steps
// 2-4), decided here once for every store: the in-process stores call these
// on the row they read, the Redis store on the hash it read, and the Lua
// scripts answer the same cases with the named codes of
// src/store/redis/lua/includes/codes.lua (held equal by test/properties.test.ts).
import { errors, type DomainError } from "./errors.js";

/** A stored session's state, as far as these rules need it. */
export interface SessionState {
  state: "active" | "deleted";
  systemOwned: boolean;
  deletedAt?: Date;
}

/** Addressing a session (every read and write): deleted, then system-owned, then unknown; undefined when usable. */
export function addressingError(sessionId: string, s: SessionState | undefined): DomainError | undefined {
  if (s === undefined) return errors.notFound(sessionId);
  if (s.state === "deleted") return errors.deleted(sessionId, s.deletedAt ?? new Date(0));
  if (s.systemOwned) return errors.systemSession(sessionId);
  return undefined;
}

/** Creating a session: an id in use stays taken, deleted (tombstone) or system-owned first; undefined when free. */
export function creationError(sessionId: string, s: SessionState | undefined): DomainError | undefined {
  if (s === undefined) return undefined;
  if (s.state === "deleted") return errors.deleted(sessionId, s.deletedAt ?? new Date(0));
  if (s.systemOwned) return errors.systemSession(sessionId);
  return errors.exists(sessionId);
}
