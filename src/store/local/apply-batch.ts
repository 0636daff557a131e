// Group commit's inner loop: a batch of writes in one transaction. Each op is
// planned in arrival order against the state the earlier ops of the batch
// left (they are stored as they are decided), so a batch answers exactly
// what the same ops one at a time would. A domain error (conflict, limit,
// not found, ...) refuses that op alone: the engine decides before anything
// is stored, so a refused op leaves nothing behind. Any other failure fails
// the whole batch, and the transaction keeps none of it.
import { planWrite, type ScopeState, type WritePlan } from "../../domain/engine.js";
import { DomainError } from "../../domain/errors.js";
import { creationError } from "../../domain/session-rules.js";
import type { Config } from "../../config.js";
import { DEFAULT_TUPLE, type Backend, type StoredSession, type TupleId, type TupleRow } from "./backend.js";
import { activeSession, tupleOf, tupleRow } from "./tuples.js";
import { toPlainError, type OpResult, type OpValue, type WriteOp } from "./write-ops.js";

export type WriterConfig = Pick<Config, "seedDefaults" | "historyLimit" | "limits" | "requestIdLimit">;

/** Commits `ops` as one transaction; throws (storing nothing) when the batch fails as a whole. */
export function applyBatch(backend: Backend, ops: WriteOp[], config: WriterConfig): OpResult[] {
  return backend.transaction(() =>
    ops.map((op): OpResult => {
      try {
        return { ok: true, value: applyOne(backend, op, config) };
      } catch (err) {
        if (err instanceof DomainError) return { ok: false, error: toPlainError(err) };
        throw err;
      }
    }),
  );
}

/** Seeds the default tuple from the environment when the store has none. */
export function seedDefaults(backend: Backend, config: WriterConfig, now: Date): void {
  backend.transaction(() => {
    if (backend.tuple(DEFAULT_TUPLE)) return;
    backend.putTuple(DEFAULT_TUPLE, { controls: { ...config.seedDefaults }, revision: 0n, keyCount: 0, bytes: 0, updatedAt: now, requestSeq: 0 });
  });
}

function applyOne(backend: Backend, op: WriteOp, config: WriterConfig): OpValue {
  switch (op.kind) {
    case "create":
      return create(backend, op.input);
    case "delete":
      backend.putSession({ ...activeSession(backend, op.sessionId), state: "deleted", deletedAt: op.at });
      backend.dropTuple(op.sessionId);
      return { kind: "delete", deletedAt: op.at };
    case "mutate":
      return mutate(backend, op, config);
  }
}

function create(backend: Backend, input: Extract<WriteOp, { kind: "create" }>["input"]): OpValue {
  const taken = creationError(input.sessionId, backend.session(input.sessionId));
  if (taken) throw taken;
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
  return {
    kind: "create",
    session: { ...session, updatedAt: input.createdAt },
    tuple: { ...controls, revision: 0n, entries: backend.settings(input.sessionId) },
  };
}

function mutate(backend: Backend, op: Extract<WriteOp, { kind: "mutate" }>, config: WriterConfig): OpValue {
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
  if (plan.entry && !plan.replayed) value.entry = plan.entry;
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
