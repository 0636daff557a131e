// Group commit's inner loop: a batch of writes in one transaction. Each op is
// planned in arrival order against the state the earlier ops of the batch
// left (they are stored as they are decided), so a batch answers exactly
// what the same ops one at a time would. A domain error (conflict, limit,
// not found, ...) refuses that op alone: the engine decides before anything
// is stored, so a refused op leaves nothing behind. Any other failure fails
// the whole batch, and the transaction keeps none of it. Writes are checked
// against the schemas committed in the same database (./schema-ops.ts), and
// a schema change is an op of the batch too.
import { planWrite, type ScopeState, type WritePlan } from "../../domain/engine.js";
import { DomainError, errors } from "../../domain/errors.js";
import { changeKindOf } from "../../domain/feed.js";
import { compareKeys } from "../../domain/json.js";
import { creationError } from "../../domain/session-rules.js";
import { CONTROL_NAMES, type Change, type FeedChange, type HistoryEntry, type JsonValue } from "../../domain/types.js";
import type { Config } from "../../config.js";
import type { Provenance } from "../store.js";
import { DEFAULT_TUPLE, type Backend, type NewFeedChange, type StoredSession, type TupleId, type TupleRow } from "./backend.js";
import { activeSession, tupleOf, tupleRow } from "./tuples.js";
import type { LocalSchemas } from "./schema-ops.js";
import { toPlainError, type OpResult, type OpValue, type WriteOp } from "./write-ops.js";

export type WriterConfig = Pick<Config, "seedDefaults" | "historyLimit" | "limits" | "requestIdLimit" | "feedLimit">;

const BY_DEFAULT: Provenance = { actor: "user", source: "api" };

/**
 * Commits `ops` as one transaction; throws (storing nothing) when the batch
 * fails as a whole. Every change also gets its place in the change feed, in
 * the same transaction, and the feed is trimmed to FEED_LIMIT once per batch.
 */
export function applyBatch(backend: Backend, ops: WriteOp[], config: WriterConfig, schemas: LocalSchemas): OpResult[] {
  try {
    return backend.transaction(() => {
      schemas.load(backend);
      const results = ops.map((op): OpResult => {
        try {
          return { ok: true, value: applyOne(backend, op, config, schemas) };
        } catch (err) {
          if (err instanceof DomainError) return { ok: false, error: toPlainError(err) };
          throw err;
        }
      });
      const { oldest, newest } = backend.feedBounds();
      if (newest - oldest + 1n > BigInt(config.feedLimit)) backend.trimFeed(newest - BigInt(config.feedLimit));
      return results;
    });
  } catch (err) {
    schemas.forget();
    throw err;
  }
}

/** Seeds the default tuple from the environment when the store has none. */
export function seedDefaults(backend: Backend, config: WriterConfig, now: Date): void {
  backend.transaction(() => {
    if (backend.tuple(DEFAULT_TUPLE)) return;
    backend.putTuple(DEFAULT_TUPLE, { controls: { ...config.seedDefaults }, revision: 0n, keyCount: 0, bytes: 0, updatedAt: now, requestSeq: 0 });
  });
}

function applyOne(backend: Backend, op: WriteOp, config: WriterConfig, schemas: LocalSchemas): OpValue {
  switch (op.kind) {
    case "create":
      return create(backend, op.input, schemas);
    case "putSchema":
      return schemas.put(backend, op.change, config.historyLimit);
    case "deleteSchema":
      return schemas.delete(backend, op.change, config.historyLimit);
    case "delete": {
      const session = activeSession(backend, op.sessionId);
      const { revision } = tupleRow(backend, op.sessionId);
      backend.putSession({ ...session, state: "deleted", deletedAt: op.at });
      backend.dropTuple(op.sessionId);
      const entry = feedEntry("delete", revision, op.by, op.at, []);
      return { kind: "delete", deletedAt: op.at, feed: appendFeed(backend, { sessionId: op.sessionId, scope: "session", revision, kind: "session_deleted", entry }) };
    }
    case "mutate":
      return mutate(backend, op, config, schemas);
  }
}

function create(backend: Backend, input: Extract<WriteOp, { kind: "create" }>["input"], schemas: LocalSchemas): OpValue {
  const taken = creationError(input.sessionId, backend.session(input.sessionId));
  if (taken) throw taken;
  // The copies are writes like any other: each must satisfy its key's schema.
  const issues = schemas.copied(backend, DEFAULT_TUPLE);
  if (issues.length > 0) throw errors.schemaInvalid(issues);
  const defaults = tupleRow(backend, DEFAULT_TUPLE);
  const session: StoredSession = {
    sessionId: input.sessionId,
    cwd: input.cwd,
    createdAt: input.createdAt,
    systemOwned: input.systemOwned,
    state: "active",
  };
  const controls = { ...defaults.controls, ...input.overrides };
  backend.putSession(session);
  backend.putTuple(input.sessionId, {
    controls,
    revision: 0n,
    keyCount: defaults.keyCount,
    bytes: defaults.bytes,
    updatedAt: input.createdAt,
    requestSeq: 0,
  });
  backend.copySettings(DEFAULT_TUPLE, input.sessionId);
  const entries = backend.settings(input.sessionId);
  // The feed tells what the new session got: its controls, then its settings in change order.
  const changes: Change[] = [
    ...CONTROL_NAMES.map((key): Change => ({ kind: "control", key, after: controls[key] })),
    ...[...entries].sort(([a], [b]) => compareKeys(a, b)).map(([key, text]): Change => ({ kind: "setting", key, after: JSON.parse(text) as JsonValue })),
  ];
  const entry = feedEntry("create", 0n, input.by, input.createdAt, changes);
  return {
    kind: "create",
    session: { ...session, updatedAt: input.createdAt },
    tuple: { ...controls, revision: 0n, entries },
    feed: appendFeed(backend, { sessionId: input.sessionId, scope: "session", revision: 0n, kind: "session_created", entry }),
  };
}

function feedEntry(op: "create" | "delete", revision: bigint, by: Provenance | undefined, time: Date, changes: Change[]): HistoryEntry {
  const { actor, source } = by ?? BY_DEFAULT;
  return { revision, scope: "session", op, actor, source, time, changes };
}

function appendFeed(backend: Backend, change: NewFeedChange): FeedChange {
  return { ...change, position: { shard: "", seq: backend.appendFeed(change) } };
}

function mutate(backend: Backend, op: Extract<WriteOp, { kind: "mutate" }>, config: WriterConfig, schemas: LocalSchemas): OpValue {
  const { ref, mutation, options } = op;
  const id = tupleOf(backend, ref);
  const row = tupleRow(backend, id);
  const decided = planWrite(scopeState(backend, id, row), mutation, {
    scope: ref.scope,
    sessionId: ref.sessionId,
    actor: options.actor,
    claimedActor: options.claimedActor,
    source: options.source,
    ifRevision: options.ifRevision,
    requestId: options.requestId,
    fingerprint: op.fingerprint,
    time: op.time,
    limits: config.limits,
    historyLimit: config.historyLimit,
    requestIdLimit: config.requestIdLimit,
    schemas,
  });
  if (!decided.ok) throw decided.error;
  const plan = decided.plan;
  if (!plan.replayed) store(backend, id, row, plan);
  const value: OpValue = {
    kind: "mutate",
    changed: plan.outcome.changed,
    revision: plan.outcome.revision,
    removed: plan.outcome.removed,
    replayed: plan.replayed,
  };
  if (plan.outcome.valueText !== undefined) value.valueText = plan.outcome.valueText;
  if (options.withSettings || mutation.op === "controls") value.entries = backend.settings(id);
  if (mutation.op === "controls") value.controls = { ...plan.controls };
  if (plan.entry && !plan.replayed) {
    value.entry = plan.entry;
    value.feed = appendFeed(backend, {
      sessionId: ref.scope === "default" ? "" : ref.sessionId,
      scope: ref.scope,
      revision: plan.entry.revision,
      kind: changeKindOf(plan.entry.op),
      entry: plan.entry,
    });
  }
  return value;
}

/** Stores what the engine decided; the batch's transaction makes it all-or-nothing. */
function store(b: Backend, id: TupleId, row: TupleRow, plan: WritePlan): void {
  if (plan.settings.length > 0) b.writeSettings(id, plan.settings);
  const next: TupleRow = {
    controls: plan.controls,
    revision: plan.outcome.revision,
    keyCount: plan.keyCount,
    bytes: plan.bytes,
    updatedAt: plan.entry?.time ?? row.updatedAt,
    requestSeq: plan.remember?.seq ?? row.requestSeq,
  };
  if (plan.entry) b.appendHistory(id, plan.entry);
  if (plan.trimHistoryThrough !== undefined) b.trimHistory(id, plan.trimHistoryThrough);
  if (plan.remember) b.remember(id, plan.remember.seq, plan.remember.requestId, plan.remember);
  if (plan.forgetRequestsThrough !== undefined) b.forgetRequests(id, plan.forgetRequestsThrough);
  if (plan.entry || plan.remember) b.putTuple(id, next);
}

function scopeState(b: Backend, id: TupleId, row: TupleRow): ScopeState {
  return {
    revision: row.revision,
    controls: row.controls,
    keyCount: row.keyCount,
    bytes: row.bytes,
    get: (key) => b.setting(id, key),
    keys: () => b.settingKeys(id),
    recall: (requestId) => b.recall(id, requestId),
    requestSeq: row.requestSeq,
  };
}
