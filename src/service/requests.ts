// What every operation checks about a request before it reaches the store,
// in SPEC §4's order: identifiers, then session state (which wins over a bad
// payload or the lock), then the payload, the lock and the revision (the
// last in the store). Also the request's provenance (actor, source, request
// id) and the turning of a transport's update into a domain Mutation.
import { authorize, type Principal } from "../auth.js";
import type { Config } from "../config.js";
import { errors } from "../domain/errors.js";
import { isObject } from "../domain/json.js";
import { Rules } from "../domain/rules.js";
import type { ControlFields, JsonValue, Mutation, PathOp, Scope, ScopeRef } from "../domain/types.js";
import type { Protocol } from "../observe/calls.js";
import type { Store } from "../store/store.js";

export type OperationsConfig = Pick<Config, "limits" | "defaultsLocked" | "watchHeartbeatMs" | "watchBacklog" | "settingsCacheBytes">;

/** What the operations tell whoever wires them (metrics, logs). */
export interface OperationHooks {
  /** A watch stream started on `protocol`; the answer is called when it ends. */
  watchOpened?(protocol: Protocol): () => void;
  /** A whole map was read: from the snapshot cache (nothing but the revision came from the store), or not. */
  mapRead?(cached: boolean): void;
  /** A watcher fell too far behind and its stream is being ended (WATCH_BACKLOG). */
  watchCutOff?(ref: ScopeRef, protocol: Protocol): void;
}

/** A settings update as a transport received it, before validation. */
export type SettingsUpdate =
  | { kind: "object"; settings: JsonValue | undefined; mode: "merge" | "replace" }
  | { kind: "entry"; key: string | undefined; value: JsonValue | undefined }
  | { kind: "path"; path?: string; segments?: readonly unknown[]; value: JsonValue | undefined; op: PathOp }
  | { kind: "missing" };

export interface WriteInput {
  sessionId: string;
  scope: Scope;
  /** The authenticated caller; undefined while authentication is off. */
  caller?: Principal;
  ifRevision?: bigint;
  actor?: string;
  source?: string;
  /** Idempotency key (REST's Idempotency-Key header, the request_id field elsewhere). */
  requestId?: string;
  /** Also answer the whole map (REST). */
  withSettings?: boolean;
}

/** What a change is recorded with: who (declared, and authenticated), from where, and its compare-and-set and request id. */
export type ProvenanceInput = Pick<WriteInput, "caller" | "actor" | "source" | "requestId" | "ifRevision" | "withSettings">;

export interface CreateSessionInput {
  caller?: Principal;
  sessionId?: string;
  cwd?: string;
  systemOwned?: boolean;
  overrides: Partial<Record<keyof ControlFields, unknown>>;
}

const PATH_OPS: readonly string[] = ["set", "merge", "unset"];

export type RequestChecks = ReturnType<typeof requestChecks>;

export function requestChecks(store: Store, config: OperationsConfig) {
  const rules = () => new Rules(config.limits);

  return {
    rules,

    /** SPEC §4 step 1: identifiers are checked before anything is read. */
    identifiers(sessionId: string): void {
      const r = rules();
      r.sessionId("sessionId", sessionId);
      r.throwIfInvalid();
    },

    /** Steps 2-6 before a write: session state wins over a bad payload or the lock. */
    async admitWrite(ref: ScopeRef, r: Rules): Promise<void> {
      if (!r.ok) {
        await store.requireActiveSession(ref.sessionId);
        r.throwIfInvalid();
      }
      if (ref.scope === "default" && config.defaultsLocked) {
        await store.requireActiveSession(ref.sessionId);
        throw errors.locked(ref.sessionId);
      }
    },

    /** Reads need the read role, session writes write, default-scope writes admin. */
    authorizeWrite(input: WriteInput): void {
      if (input.scope === "default") authorize(input.caller, "admin", "write the default scope");
      else authorize(input.caller, "write", "write settings");
    },

    /** With authentication on, history records the token's actor; a declared one is kept as claimedActor. */
    provenance(r: Rules, input: ProvenanceInput, fallbackSource: "api" | "ui") {
      const declared = r.actor("actor", input.actor);
      const actor = input.caller?.actor ?? declared;
      const claimed = input.caller && input.actor !== undefined && input.actor !== "" && declared !== actor ? declared : undefined;
      return {
        actor,
        claimedActor: claimed,
        source: r.source("source", input.source, fallbackSource),
        requestId: r.requestId("requestId", input.requestId),
        ifRevision: input.ifRevision,
        withSettings: input.withSettings,
      };
    },

    toMutation(r: Rules, update: SettingsUpdate): Mutation | undefined {
      switch (update.kind) {
        case "object": {
          const settings = r.settings("settings", update.settings);
          return settings && { op: update.mode, settings };
        }
        case "entry": {
          const key = r.key("key", update.key);
          const value = r.value("value", update.value);
          return key !== undefined && value !== undefined ? { op: "set", key, value } : undefined;
        }
        case "path": {
          if (!PATH_OPS.includes(update.op)) r.fail("op", "must be set, merge or unset");
          const bySegments = update.segments !== undefined && update.segments.length > 0;
          if (bySegments && update.path) return r.fail("path", "give the path as segments or as a dotted string, not both");
          const path = bySegments ? r.path("segments", update.segments) : r.path("path", update.path ?? update.segments);
          const value = update.op === "unset" ? null : r.value("value", update.value, path?.segments.length ?? 0);
          if (update.op === "merge" && value !== undefined && !isObject(value)) {
            r.fail("value", "must be a JSON object to merge");
          }
          return path && value !== undefined && r.ok
            ? { op: "path", key: path.key, segments: path.segments, pathOp: update.op, value }
            : undefined;
        }
        case "missing":
          r.fail("update", "give settings, an entry (key and value) or a path");
          return undefined;
      }
    },
  };
}
