// The writes an in-process store commits, as plain data: they cross a thread
// boundary (the SQLite writer runs in a worker) by structured clone, so they
// hold no functions, and every time is decided by the caller before the write
// is queued.
import { DomainError, type ErrorFacts, type ErrorReason } from "../../domain/errors.js";
import type { ControlFields, FeedChange, HistoryEntry, JsonValue, Mutation, ScopeRef, SessionRecord, WriteOptions } from "../../domain/types.js";
import type { NewSession, Provenance, SchemaChange, SchemaPut } from "../store.js";

export type WriteOp =
  | { kind: "create"; input: NewSession }
  | { kind: "putSchema"; change: SchemaPut }
  | { kind: "deleteSchema"; change: SchemaChange }
  | { kind: "delete"; sessionId: string; at: Date; by?: Provenance }
  | { kind: "mutate"; ref: ScopeRef; mutation: Mutation; options: WriteOptions; time: Date; fingerprint?: string };

/** A tuple as committed, with its settings still as stored text. */
export interface TupleTexts extends ControlFields {
  revision: bigint;
  entries: [key: string, text: string][];
}

export type OpValue = (
  | { kind: "create"; session: SessionRecord; tuple: TupleTexts }
  | { kind: "delete"; deletedAt: Date }
  | { kind: "schema"; changed: boolean; revision: bigint; violations: number }
  | {
      kind: "mutate";
      changed: boolean;
      revision: bigint;
      removed: boolean;
      replayed: boolean;
      valueText?: string;
      /** The map after the write, when asked for (and always for controls). */
      entries?: [key: string, text: string][];
      controls?: ControlFields;
      /** Present when something changed: what history recorded and watchers are told. */
      entry?: HistoryEntry;
    }
) & {
  /** The op's place in the change feed, when it changed something. */
  feed?: FeedChange;
};

/** One op's answer: its value, or the domain error that refused it alone. */
export type OpResult = { ok: true; value: OpValue } | { ok: false; error: PlainDomainError };

export interface PlainDomainError {
  reason: ErrorReason;
  message: string;
  facts: ErrorFacts;
}

export function toPlainError(e: DomainError): PlainDomainError {
  return { reason: e.reason, message: e.message, facts: e.facts };
}

export function fromPlainError(e: PlainDomainError): DomainError {
  return new DomainError(e.reason, e.message, e.facts);
}

/**
 * A batch that failed as a whole, decided once for all its ops: "not_applied"
 * when the transaction was rolled back (nothing of it is stored), "unknown"
 * when the commit itself failed and the database may or may not have kept it.
 */
export interface BatchFailure {
  outcome: "not_applied" | "unknown";
  /** What the storage said (for example "database or disk is full"). */
  cause: string;
}

/**
 * About how many bytes a write carries, for the batch and queue bounds: its
 * values' strings and keys, 8 per number. Only bounds depend on it, so it
 * counts UTF-16 units and ignores JSON punctuation.
 */
export function writeBytes(op: WriteOp): number {
  if (op.kind === "putSchema") return 256 + op.change.text.length;
  if (op.kind !== "mutate") return 256;
  const m = op.mutation;
  switch (m.op) {
    case "set":
    case "path":
      return 128 + m.key.length + valueBytes(m.value);
    case "merge":
    case "replace":
      return 128 + valueBytes(m.settings);
    case "unset":
      return 128 + m.key.length;
    case "controls":
      return 256 + (m.settings === undefined ? 0 : valueBytes(m.settings));
  }
}

function valueBytes(v: JsonValue): number {
  if (typeof v === "string") return v.length;
  if (v === null || typeof v !== "object") return 8;
  let n = 0;
  if (Array.isArray(v)) for (const item of v) n += valueBytes(item);
  else for (const key in v) n += key.length + valueBytes(v[key]!);
  return n;
}
