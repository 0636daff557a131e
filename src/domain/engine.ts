// The write engine: every rule of a settings or controls write, in one pure
// function (SPEC §2-§4, §6). Given the state of one scope and a mutation it
// answers either a domain error or exactly what the write does: the rows to
// change, the new counters and revision, the history entry and the event.
// The in-process stores (memory, SQLite) run it inside their transaction and
// only store what it decides; the Redis Lua scripts are the one deliberate
// second copy, held equal to this module by test/properties.test.ts.
//
// Order of refusals: a remembered request id answers first, then
// compare-and-set, then the key's schemas (src/domain/typed-writes.ts), then
// the map's limits.
//
// Change order, as history and watchers see it: controls first, in the fixed
// order model, approvalPolicy, networkAccess, filesystemSandbox; then settings
// keys ascending by Unicode code point (the byte order of their UTF-8, which
// is what Lua compares). Each key appears at most once.
import { limitErrors, type Limits } from "./limits.js";
import { DomainError, errors } from "./errors.js";
import { canonicalJson, compareKeys, utf8Length } from "./json.js";
import { applyPath } from "./paths.js";
import { writeIssues, type SchemaCheck } from "./typed-writes.js";
import {
  CONTROL_NAMES,
  type Change,
  type ControlFields,
  type HistoryEntry,
  type JsonValue,
  type Mutation,
  type Scope,
} from "./types.js";

/** One scope as the engine reads it; the store answers from inside its transaction. */
export interface ScopeState {
  revision: bigint;
  controls: ControlFields;
  keyCount: number;
  /** Σ UTF-8 bytes of keys and value texts, checked against maxSettingsBytes. */
  bytes: number;
  /** The canonical JSON text stored under a top-level key. */
  get(key: string): string | undefined;
  /** Every top-level key; only a replace reads them all. */
  keys(): Iterable<string>;
  /** What an earlier write with this request id answered, if it is still remembered. */
  recall(requestId: string): Remembered | undefined;
  /** How many request ids this scope has remembered so far (their sequence numbers run 1..requestSeq). */
  requestSeq: number;
}

/** A write's answer, as remembered for idempotent retries. */
export interface Outcome {
  changed: boolean;
  revision: bigint;
  removed: boolean;
  /** The canonical text of the answered key's value after the write; undefined when absent. */
  valueText?: string;
}

export interface Remembered {
  /** Identifies the mutation, so that a reused id with another write is refused. */
  fingerprint: string;
  outcome: Outcome;
}

export interface WriteContext {
  scope: Scope;
  /** The addressing session; for the default scope, the event carries none. */
  sessionId: string;
  actor: string;
  claimedActor?: string;
  source: string;
  ifRevision?: bigint;
  requestId?: string;
  fingerprint?: string;
  time: Date;
  limits: Pick<Limits, "maxSettingsKeys" | "maxSettingsBytes">;
  historyLimit: number;
  /** Request ids each scope remembers; older ones are forgotten. */
  requestIdLimit: number;
  /** The schemas committed with this state; a write whose result breaks one is refused whole. */
  schemas?: SchemaCheck;
}

export interface SettingWrite {
  key: string;
  /** Canonical JSON text; undefined deletes the key. */
  text: string | undefined;
}

/** Everything a store must do to carry out one write. */
export interface WritePlan {
  outcome: Outcome;
  /** True when a remembered request id answered and nothing else is to be done. */
  replayed: boolean;
  settings: SettingWrite[];
  /** The tuple's controls after the write. */
  controls: ControlFields;
  keyCount: number;
  bytes: number;
  /** Present when something changed. */
  entry?: HistoryEntry;
  /** History entries at or below this revision fall out of the bound. */
  trimHistoryThrough?: bigint;
  /** Present when the write carried a request id and was not a replay: remember it as number `seq`. */
  remember?: { requestId: string; seq: number } & Remembered;
  /** Request ids remembered at seq <= this are forgotten. */
  forgetRequestsThrough?: number;
}

export type EngineResult = { ok: true; plan: WritePlan } | { ok: false; error: DomainError };

interface Staged {
  kind: "setting" | "control";
  key: string;
  before?: string;
  after?: string;
}

/** Decides one write. Never throws for a domain reason: errors are answered. */
export function planWrite(state: ScopeState, mutation: Mutation, ctx: WriteContext): EngineResult {
  if (ctx.requestId !== undefined) {
    const seen = state.recall(ctx.requestId);
    if (seen) {
      if (seen.fingerprint !== ctx.fingerprint) return { ok: false, error: errors.requestReused(ctx.requestId) };
      return { ok: true, plan: replay(state, seen.outcome) };
    }
  }
  if (ctx.ifRevision !== undefined && ctx.ifRevision !== state.revision) {
    return { ok: false, error: errors.conflict(ctx.sessionId, ctx.scope, ctx.ifRevision, state.revision) };
  }
  if (ctx.schemas) {
    const issues = writeIssues(mutation, (key) => parsed(state, key), ctx.schemas);
    if (issues.length > 0) return { ok: false, error: errors.schemaInvalid(issues) };
  }
  const { staged, removed, valueKey } = stage(state, mutation);
  const { keyCount, bytes } = countAfter(state, staged);
  if (keyCount > ctx.limits.maxSettingsKeys && keyCount > state.keyCount) {
    return { ok: false, error: limitErrors.keys(ctx.limits.maxSettingsKeys) };
  }
  if (bytes > ctx.limits.maxSettingsBytes && bytes > state.bytes) {
    return { ok: false, error: limitErrors.bytes(ctx.limits.maxSettingsBytes) };
  }

  const changed = staged.length > 0;
  const revision = changed ? state.revision + 1n : state.revision;
  const settings = staged.filter((s) => s.kind === "setting").map((s) => ({ key: s.key, text: s.after }));
  const outcome: Outcome = { changed, revision, removed };
  if (valueKey !== undefined) {
    const written = settings.find((s) => s.key === valueKey);
    const text = written ? written.text : state.get(valueKey);
    if (text !== undefined) outcome.valueText = text;
  }
  const plan: WritePlan = {
    outcome,
    replayed: false,
    settings,
    controls: mutation.op === "controls" ? { ...mutation.controls } : state.controls,
    keyCount,
    bytes,
  };
  if (changed) {
    plan.entry = historyEntry(mutation, ctx, revision, staged);
    if (revision > BigInt(ctx.historyLimit)) plan.trimHistoryThrough = revision - BigInt(ctx.historyLimit);
  }
  if (ctx.requestId !== undefined) {
    const seq = state.requestSeq + 1;
    plan.remember = { requestId: ctx.requestId, seq, fingerprint: ctx.fingerprint ?? "", outcome };
    if (seq > ctx.requestIdLimit) plan.forgetRequestsThrough = seq - ctx.requestIdLimit;
  }
  return { ok: true, plan };
}

function replay(state: ScopeState, outcome: Outcome): WritePlan {
  return { outcome, replayed: true, settings: [], controls: state.controls, keyCount: state.keyCount, bytes: state.bytes };
}

/** Works out what a mutation changes, in change order, without changing anything. */
function stage(state: ScopeState, m: Mutation): { staged: Staged[]; removed: boolean; valueKey?: string } {
  const settings = new Map<string, string | undefined>();
  let removed = false;
  let valueKey: string | undefined;
  const put = (key: string, value: JsonValue | undefined) => settings.set(key, value === undefined ? undefined : canonicalJson(value));
  const replaceAll = (next: Record<string, JsonValue>) => {
    for (const key of state.keys()) if (!Object.hasOwn(next, key)) settings.set(key, undefined);
    for (const key of Object.keys(next)) put(key, next[key]);
  };

  const staged: Staged[] = [];
  switch (m.op) {
    case "set":
      put(m.key, m.value);
      valueKey = m.key;
      break;
    case "merge":
      for (const key of Object.keys(m.settings)) put(key, m.settings[key]);
      break;
    case "replace":
      replaceAll(m.settings);
      break;
    case "unset":
      settings.set(m.key, undefined);
      break;
    case "path": {
      const result = applyPath(parsed(state, m.key), m.segments, m.pathOp, m.value);
      put(m.key, result.value);
      removed = result.removed;
      valueKey = m.key;
      break;
    }
    case "controls":
      for (const name of CONTROL_NAMES) {
        const before = state.controls[name];
        const after = m.controls[name];
        if (before !== after) staged.push({ kind: "control", key: name, before: JSON.stringify(before), after: JSON.stringify(after) });
      }
      if (m.settings !== undefined) replaceAll(m.settings);
      break;
  }
  for (const key of [...settings.keys()].sort(compareKeys)) {
    const before = state.get(key);
    const after = settings.get(key);
    if (before !== after) staged.push({ kind: "setting", key, before, after });
  }
  if (m.op === "unset") removed = staged.length > 0;
  return { staged, removed, valueKey };
}

function parsed(state: ScopeState, key: string): JsonValue | undefined {
  const text = state.get(key);
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}

function countAfter(state: ScopeState, staged: Staged[]): { keyCount: number; bytes: number } {
  let keyCount = state.keyCount;
  let bytes = state.bytes;
  for (const s of staged) {
    if (s.kind !== "setting") continue;
    if (s.before !== undefined) {
      keyCount -= 1;
      bytes -= utf8Length(s.key) + utf8Length(s.before);
    }
    if (s.after !== undefined) {
      keyCount += 1;
      bytes += utf8Length(s.key) + utf8Length(s.after);
    }
  }
  return { keyCount, bytes };
}

function historyEntry(m: Mutation, ctx: WriteContext, revision: bigint, staged: Staged[]): HistoryEntry {
  const entry: HistoryEntry = {
    revision,
    scope: ctx.scope,
    op: m.op,
    actor: ctx.actor,
    source: ctx.source,
    time: ctx.time,
    changes: staged.map(toChange),
  };
  if (ctx.claimedActor !== undefined) entry.claimedActor = ctx.claimedActor;
  if (m.op === "path") entry.path = { segments: [m.key, ...m.segments], op: m.pathOp };
  return entry;
}

function toChange(s: Staged): Change {
  const change: Change = { kind: s.kind, key: s.key };
  if (s.before !== undefined) change.before = JSON.parse(s.before) as JsonValue;
  if (s.after !== undefined) change.after = JSON.parse(s.after) as JsonValue;
  return change;
}
