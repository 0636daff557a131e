// Reads of one tuple's rows that both sides of the in-process store need:
// the writer checks and plans with them inside its transaction, the reader
// answers with them inside its snapshot.
import { addressingError } from "../../domain/session-rules.js";
import type { ScopeRef } from "../../domain/types.js";
import { DEFAULT_TUPLE, type Backend, type StoredSession, type TupleId, type TupleRow } from "./backend.js";

/** The session, if active and user-owned; else the error SPEC §4 orders (deleted, system-owned, unknown). */
export function activeSession(backend: Backend, sessionId: string): StoredSession {
  const session = backend.session(sessionId);
  const refused = addressingError(sessionId, session);
  if (refused) throw refused;
  return session!;
}

/** Checks the addressing session, then answers the tuple the ref names. */
export function tupleOf(backend: Backend, ref: ScopeRef): TupleId {
  activeSession(backend, ref.sessionId);
  return ref.scope === "default" ? DEFAULT_TUPLE : ref.sessionId;
}

export function tupleRow(backend: Backend, id: TupleId): TupleRow {
  const row = backend.tuple(id);
  if (!row) throw new Error(`tuple ${JSON.stringify(id)} is missing`);
  return row;
}
