// SettingsService and SessionService as plain objects of async functions
// (connect-es style): proto in, domain operations, proto out. Errors are
// DomainErrors here; the transport's interceptor maps them to ConnectErrors.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { principalKey } from "../auth.js";
import { create } from "@bufbuild/protobuf";
import type { Protocol } from "../observe/calls.js";
import type { HistoryEntry } from "../domain/types.js";
import { streamInterrupt } from "./watch.js";
import { withEncoders } from "./encoded-answer.js";
import { setAnswerProto, type SetAnswer } from "./set-answer.js";
import { SettingsSnapshot } from "./settings-snapshot.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SessionService } from "../../gen/codexmanager/settings/v1/session_pb.js";
import {
  GetSettingsResponseSchema,
  Mode,
  SetSettingsResponseSchema,
  SettingsService,
  WatchSettingsResponseSchema,
  type Scope as ScopePb,
  type GetSettingsResponse,
  type SetSettingsRequest,
  type WatchSettingsResponse,
} from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { operationsFor, type Operations, type SettingsUpdate, type WriteInput } from "./operations.js";
import {
  controlsFromPb,
  controlsToPb,
  historyEntryToPb,
  overridesFromPb,
  pathOpFromPb,
  scopeFromPb,
  sessionToPb,
  tupleToPb,
  valueFromPb,
  valueToPb,
} from "./convert.js";

const callerOf = (ctx: HandlerContext) => ctx.values.get(principalKey);

/** The fields every write request shares, with the authenticated caller. */
function writeInput(
  req: { sessionId: string; scope: ScopePb; actor: string; source: string; requestId: string; ifRevision?: bigint },
  ctx: HandlerContext,
): WriteInput {
  // proto3 cannot tell an empty string from an absent one: empty means "use the default" (or none).
  return {
    sessionId: req.sessionId,
    scope: scopeFromPb(req.scope),
    actor: req.actor || undefined,
    source: req.source || undefined,
    requestId: req.requestId || undefined,
    ifRevision: req.ifRevision,
    caller: callerOf(ctx),
  };
}

function updateFromPb(update: SetSettingsRequest["update"]): SettingsUpdate {
  switch (update.case) {
    case "object":
      return {
        kind: "object",
        settings: update.value.settings ?? undefined,
        mode: update.value.mode === Mode.REPLACE ? "replace" : "merge",
      };
    case "entry":
      return { kind: "entry", key: update.value.key, value: valueFromPb(["entry", "value"], update.value.value) };
    case "path": {
      const op = pathOpFromPb(update.value.op);
      return { kind: "path", path: update.value.path, segments: update.value.segments, value: valueFromPb(["path", "value"], update.value.value), op };
    }
    default:
      return { kind: "missing" };
  }
}

// One answer per map snapshot, shared by every reader of that revision. Its
// settings are parsed only if a generic encoder asks; the fast path writes
// the bytes it carries (./encoded-answer.ts), built once, in slices.
const snapshotMessages = new WeakMap<SettingsSnapshot, GetSettingsResponse>();
function snapshotMessage(snapshot: SettingsSnapshot): GetSettingsResponse {
  let message = snapshotMessages.get(snapshot);
  if (!message) {
    const lazy = Object.defineProperty(create(GetSettingsResponseSchema, { revision: snapshot.revision }), "settings", {
      get: () => snapshot.settings,
      enumerable: true,
    });
    message = withEncoders(lazy, { proto: () => snapshot.responseProto(), json: () => snapshot.responseJson() });
    snapshotMessages.set(snapshot, message);
  }
  return message;
}

// One message per change, shared by every watcher that receives it, so that its bytes are encoded once (transport/rpc/wire.ts).
const changeMessages = new WeakMap<HistoryEntry, WatchSettingsResponse>();
function changeMessage(entry: HistoryEntry): WatchSettingsResponse {
  let message = changeMessages.get(entry);
  if (!message) changeMessages.set(entry, (message = create(WatchSettingsResponseSchema, { entry: historyEntryToPb(entry) })));
  return message;
}

export function settingsService(ops: Operations): ServiceImpl<typeof SettingsService> {
  const opsOf = operationsFor(ops);
  return {
    async getSettings(req, ctx) {
      const read = await opsOf(ctx).getSettings({ sessionId: req.sessionId, scope: scopeFromPb(req.scope) }, req.key, callerOf(ctx), req.atRevision);
      if (read instanceof SettingsSnapshot) return snapshotMessage(read);
      return { found: read.found, value: valueToPb(read.value), revision: read.revision };
    },

    async setSettings(req, ctx) {
      const result = await opsOf(ctx).setSettings(
        writeInput(req, ctx),
        updateFromPb(req.update),
      );
      const answer: SetAnswer = { changed: result.changed, revision: result.revision, key: result.key, value: result.value, removed: result.removed, replayed: result.replayed ?? false };
      return withEncoders(create(SetSettingsResponseSchema, { ...answer, value: valueToPb(result.value) }), { proto: () => setAnswerProto(answer) });
    },

    async unsetSetting(req, ctx) {
      const result = await opsOf(ctx).unsetSetting(
        writeInput(req, ctx),
        req.key,
      );
      return { removed: result.removed, changed: result.changed, revision: result.revision, replayed: result.replayed ?? false };
    },

    async getControls(req, ctx) {
      const view = await opsOf(ctx).getControls(req.sessionId, callerOf(ctx), req.atRevision);
      return {
        session: tupleToPb(view.session),
        defaults: tupleToPb(view.defaults),
        defaultsEditable: view.defaultsEditable,
        defaultLockReason: view.defaultLockReason ?? undefined,
      };
    },

    async applyControls(req, ctx) {
      const result = await opsOf(ctx).applyControls(
        writeInput(req, ctx),
        req.controls && controlsFromPb(req.controls),
        req.controls?.settings,
      );
      return {
        changed: result.changed,
        revision: result.revision,
        applied: controlsToPb(result.applied),
        summary: result.summary,
        replayed: result.replayed ?? false,
      };
    },

    async *watchSettings(req, ctx) {
      const watch = await opsOf(ctx).watch(
        { sessionId: req.sessionId, scope: scopeFromPb(req.scope) },
        {
          fromRevision: req.fromRevision,
          includeSettings: req.includeSettings,
          signal: ctx.signal,
          caller: callerOf(ctx),
          protocol: ctx.protocolName as Protocol,
        },
      );
      // A watcher that falls behind must be ended even while its socket is full.
      ctx.values.set(streamInterrupt, watch.overflow);
      for await (const item of watch) {
        if (item.type === "created") yield { created: true, revision: item.revision };
        else if (item.type === "heartbeat") yield { heartbeat: true, revision: item.revision };
        else if (item.settings) yield { entry: historyEntryToPb(item.entry), settings: item.settings };
        else yield changeMessage(item.entry);
      }
    },

    async listHistory(req, ctx) {
      const page = await opsOf(ctx).listHistory(
        { sessionId: req.sessionId, scope: scopeFromPb(req.scope) },
        req.limit,
        req.beforeRevision,
        callerOf(ctx),
      );
      return { entries: page.entries.map(historyEntryToPb), nextBeforeRevision: page.nextBefore };
    },
  };
}

export function sessionService(ops: Operations): ServiceImpl<typeof SessionService> {
  const opsOf = operationsFor(ops);
  return {
    async createSession(req, ctx) {
      const { session, tuple } = await opsOf(ctx).createSession({
        caller: callerOf(ctx),
        sessionId: req.sessionId,
        cwd: req.cwd,
        systemOwned: req.systemOwned,
        overrides: overridesFromPb(req),
      });
      return { session: sessionToPb(session), controls: tupleToPb(tuple) };
    },

    async getSession(req, ctx) {
      const { session, tuple } = await opsOf(ctx).getSession(req.sessionId, callerOf(ctx));
      return { session: sessionToPb(session), controls: tupleToPb(tuple) };
    },

    async listSessions(req, ctx) {
      const page = await opsOf(ctx).listSessions(req.pageSize, req.pageToken, callerOf(ctx));
      return { sessions: page.sessions.map(({ session }) => sessionToPb(session)), nextPageToken: page.nextPageToken };
    },

    async deleteSession(req, ctx) {
      const { sessionId, deletedAt } = await opsOf(ctx).deleteSession(req.sessionId, callerOf(ctx));
      return { sessionId, deletedAt: timestampFromDate(deletedAt) };
    },
  };
}
