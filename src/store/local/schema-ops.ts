// Typed settings in the in-process stores: the schema registry lives in the
// same database as the values it governs, and every schema change is a write
// of the batch like any other. So a write is checked inside its transaction
// against exactly the schemas committed beside it, and a schema is registered
// after checking every stored value in the same transaction: no write can
// slip between the check and the commit.
import { errors, type Issue } from "../../domain/errors.js";
import { SchemaValidators, VIOLATIONS_SHOWN, violationsOf, type ValueCheck } from "../../domain/schemas.js";
import { copiedIssues, type SchemaCheck } from "../../domain/typed-writes.js";
import type { SchemaChange, SchemaPut, SchemaRecord } from "../store.js";
import type { Backend, NewSchemaHistory, TupleId } from "./backend.js";
import type { OpValue } from "./write-ops.js";

/**
 * One thread's view of the committed schemas, with its own compiled
 * validators (the SQLite writer thread has one; so does the memory store).
 * It is read again whenever the store's schema revision moved, so a batch
 * that was rolled back never leaves a schema behind (see forget()).
 */
export class LocalSchemas implements SchemaCheck {
  private readonly validators = new SchemaValidators();
  private revision = -1n;
  /** Each schema with its compiled check, resolved when loaded so that a write only looks up its key. */
  private records = new Map<string, { record: SchemaRecord; check: ValueCheck }>();

  /** Inside a transaction: reads the registry again if another schema change committed since. */
  load(backend: Backend): this {
    const revision = backend.schemaRevision();
    if (revision !== this.revision) {
      const records = backend.schemas();
      this.validators.retain(records.map((r) => [r.key, r.text]));
      this.records = new Map(records.map((record) => [record.key, { record, check: this.validators.check(record.key, record.text) }]));
      this.revision = revision;
    }
    return this;
  }

  /** After a batch failed: what it loaded may have been rolled back. */
  forget(): void {
    this.revision = -1n;
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  issues(key: string, value: Parameters<SchemaCheck["issues"]>[1]): Issue[] {
    return this.records.get(key)?.check(value) ?? [];
  }

  /** The issues of the default scope's values that a new session would copy. */
  copied(backend: Backend, from: TupleId): Issue[] {
    if (this.records.size === 0) return [];
    const entries: [string, string][] = [];
    for (const key of this.records.keys()) {
      const text = backend.setting(from, key);
      if (text !== undefined) entries.push([key, text]);
    }
    return copiedIssues(entries, this);
  }

  /** Registers a schema (see Store.putSchema); throws SCHEMA_VIOLATED, refusing this write alone. */
  put(backend: Backend, change: SchemaPut, historyLimit: number): OpValue {
    const current = backend.schema(change.key);
    if (current?.text === change.text) return { kind: "schema", changed: false, revision: current.revision, violations: 0 };
    const check = this.validators.check(change.key, change.text);
    const { count, violations } = violationsOf(backend.valuesOf(change.key), check, VIOLATIONS_SHOWN);
    if (count > 0 && !change.force) throw errors.schemaViolated(change.key, count, violations);
    const revision = record(backend, { ...entryOf(change, "put"), text: change.text, forced: change.force, violations: count }, historyLimit);
    backend.putSchema({ key: change.key, revision, text: change.text, time: change.time, actor: change.by.actor, source: change.by.source });
    this.load(backend);
    return { kind: "schema", changed: true, revision, violations: count };
  }

  delete(backend: Backend, change: SchemaChange, historyLimit: number): OpValue {
    if (!backend.schema(change.key)) return { kind: "schema", changed: false, revision: backend.schemaRevision(), violations: 0 };
    const revision = record(backend, { ...entryOf(change, "delete"), forced: false, violations: 0 }, historyLimit);
    backend.dropSchema(change.key);
    this.load(backend);
    return { kind: "schema", changed: true, revision, violations: 0 };
  }
}

/** Violations of `key`'s registered schema in a reader's snapshot; throws SCHEMA_NOT_FOUND. */
export function readViolations(backend: Backend, validators: SchemaValidators, key: string, limit: number) {
  const schema = backend.schema(key);
  if (!schema) throw errors.schemaNotFound(key);
  const check = validators.check(key, schema.text);
  return { revision: schema.revision, ...violationsOf(backend.valuesOf(key), check, limit) };
}

function entryOf(change: SchemaChange, op: "put" | "delete"): Omit<NewSchemaHistory, "forced" | "violations"> {
  const { actor, source, claimedActor } = change.by;
  return { key: change.key, op, actor, source, time: change.time, ...(claimedActor !== undefined && { claimedActor }) };
}

function record(backend: Backend, entry: NewSchemaHistory, historyLimit: number): bigint {
  const revision = backend.appendSchemaHistory(entry);
  if (revision > BigInt(historyLimit)) backend.trimSchemaHistory(revision - BigInt(historyLimit));
  return revision;
}
