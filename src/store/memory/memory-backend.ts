// Plain maps, for tests and for DATA_DIR=:memory:. Nothing survives the
// process. Node runs one callback at a time and the engine decides a whole
// write before anything is stored, so a transaction is just a call.
import type { Remembered, SettingWrite } from "../../domain/engine.js";
import { compareKeys } from "../../domain/json.js";
import type { FeedChange, HistoryEntry } from "../../domain/types.js";
import type { Backend, NewFeedChange, NewSchemaHistory, StoredSession, TupleId, TupleRow } from "../local/backend.js";
import type { SchemaHistoryEntry, SchemaRecord } from "../store.js";

interface TupleData {
  row: TupleRow;
  settings: Map<string, string>;
  /** Oldest first. */
  history: HistoryEntry[];
  requests: Map<string, { seq: number; remembered: Remembered }>;
}

export class MemoryBackend implements Backend {
  readonly kind = "memory" as const;
  readonly location = ":memory:";
  private readonly sessions = new Map<string, StoredSession>();
  private readonly tuples = new Map<TupleId, TupleData>();
  /** Oldest first. */
  private feed: FeedChange[] = [];
  private feedSeq = 0n;
  private readonly schemaRecords = new Map<string, SchemaRecord>();
  /** Oldest first. */
  private schemaLog: SchemaHistoryEntry[] = [];
  private schemaSeq = 0n;

  transaction<T>(fn: () => T): T {
    return fn();
  }

  read<T>(fn: () => T): T {
    return fn();
  }

  session(sessionId: string): StoredSession | undefined {
    const s = this.sessions.get(sessionId);
    return s && { ...s };
  }

  putSession(session: StoredSession): void {
    this.sessions.set(session.sessionId, { ...session });
  }

  activeSessions(limit: number, after?: string): StoredSession[] {
    return [...this.sessions.values()]
      .filter((s) => s.state === "active" && !s.systemOwned && (after === undefined || compareKeys(s.sessionId, after) > 0))
      .sort((a, b) => compareKeys(a.sessionId, b.sessionId))
      .slice(0, limit)
      .map((s) => ({ ...s }));
  }

  tuple(id: TupleId): TupleRow | undefined {
    const t = this.tuples.get(id);
    return t && { ...t.row, controls: { ...t.row.controls } };
  }

  putTuple(id: TupleId, row: TupleRow): void {
    const t = this.tuples.get(id);
    if (t) t.row = { ...row };
    else this.tuples.set(id, { row: { ...row }, settings: new Map(), history: [], requests: new Map() });
  }

  dropTuple(id: TupleId): void {
    this.tuples.delete(id);
  }

  setting(id: TupleId, key: string): string | undefined {
    return this.data(id).settings.get(key);
  }

  settingKeys(id: TupleId): string[] {
    return [...this.data(id).settings.keys()];
  }

  settings(id: TupleId): [string, string][] {
    return [...this.data(id).settings];
  }

  writeSettings(id: TupleId, writes: SettingWrite[]): void {
    const settings = this.data(id).settings;
    for (const w of writes) {
      if (w.text === undefined) settings.delete(w.key);
      else settings.set(w.key, w.text);
    }
  }

  copySettings(from: TupleId, to: TupleId): void {
    this.data(to).settings = new Map(this.data(from).settings);
  }

  appendHistory(id: TupleId, entry: HistoryEntry): void {
    this.data(id).history.push(entry);
  }

  trimHistory(id: TupleId, through: bigint): void {
    const t = this.data(id);
    const keep = t.history.findIndex((e) => e.revision > through);
    t.history.splice(0, keep === -1 ? t.history.length : keep);
  }

  historyBefore(id: TupleId, limit: number, before?: bigint): HistoryEntry[] {
    const older = this.data(id).history.filter((e) => before === undefined || e.revision < before);
    return older.slice(-limit).reverse();
  }

  historyAfter(id: TupleId, after: bigint): HistoryEntry[] {
    return this.data(id).history.filter((e) => e.revision > after);
  }

  oldestRevision(id: TupleId): bigint | undefined {
    return this.data(id).history[0]?.revision;
  }

  recall(id: TupleId, requestId: string): Remembered | undefined {
    return this.data(id).requests.get(requestId)?.remembered;
  }

  remember(id: TupleId, seq: number, requestId: string, remembered: Remembered): void {
    this.data(id).requests.set(requestId, { seq, remembered: { fingerprint: remembered.fingerprint, outcome: { ...remembered.outcome } } });
  }

  forgetRequests(id: TupleId, through: number): void {
    const requests = this.data(id).requests;
    // Ids are remembered once each, in seq order, so the oldest come first.
    for (const [requestId, r] of requests) {
      if (r.seq > through) break;
      requests.delete(requestId);
    }
  }

  appendFeed(change: NewFeedChange): bigint {
    this.feed.push({ ...change, position: { shard: "", seq: ++this.feedSeq } });
    return this.feedSeq;
  }

  trimFeed(through: bigint): void {
    const keep = this.feed.findIndex((c) => c.position.seq > through);
    this.feed.splice(0, keep === -1 ? this.feed.length : keep);
  }

  feedAfter(after: bigint, limit: number): FeedChange[] {
    const first = this.feed.findIndex((c) => c.position.seq > after);
    return first === -1 ? [] : this.feed.slice(first, first + limit);
  }

  feedBounds(): { oldest: bigint; newest: bigint } {
    return { oldest: this.feed[0]?.position.seq ?? this.feedSeq + 1n, newest: this.feedSeq };
  }

  schema(key: string): SchemaRecord | undefined {
    const r = this.schemaRecords.get(key);
    return r && { ...r };
  }

  schemas(): SchemaRecord[] {
    return [...this.schemaRecords.values()].sort((a, b) => compareKeys(a.key, b.key)).map((r) => ({ ...r }));
  }

  putSchema(record: SchemaRecord): void {
    this.schemaRecords.set(record.key, { ...record });
  }

  dropSchema(key: string): void {
    this.schemaRecords.delete(key);
  }

  schemaRevision(): bigint {
    return this.schemaSeq;
  }

  appendSchemaHistory(entry: NewSchemaHistory): bigint {
    const { text: _, ...rest } = entry;
    this.schemaLog.push({ ...rest, revision: ++this.schemaSeq });
    return this.schemaSeq;
  }

  trimSchemaHistory(through: bigint): void {
    this.schemaLog = this.schemaLog.filter((e) => e.revision > through);
  }

  schemaHistory(key: string, limit: number): SchemaHistoryEntry[] {
    return this.schemaLog.filter((e) => e.key === key).slice(-limit).reverse().map((e) => ({ ...e }));
  }

  valuesOf(key: string): [TupleId, string][] {
    const found: [TupleId, string][] = [];
    for (const [id, t] of this.tuples) {
      const text = t.settings.get(key);
      if (text !== undefined) found.push([id, text]);
    }
    return found.sort(([a], [b]) => compareKeys(a, b));
  }

  ping(): void {}

  close(): void {}

  private data(id: TupleId): TupleData {
    const t = this.tuples.get(id);
    if (!t) throw new Error(`tuple ${JSON.stringify(id)} is missing`);
    return t;
  }
}
