// ChangesService (connect-es style, like ./connect-services.ts): the
// store-wide change feed as WatchChanges, and ListSettings to start a cache
// from. A change's message is built once and shared by every watcher that
// stands at the same cursor, so its bytes are encoded once per format.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ChangesService,
  FeedKind,
  ScopeFilter,
  WatchChangesResponseSchema,
  type WatchChangesResponse,
} from "../../gen/codexmanager/settings/v1/changes_pb.js";
import { principalKey } from "../auth.js";
import type { ChangeKind, FeedChange } from "../domain/types.js";
import type { Protocol } from "../observe/calls.js";
import type { ChangeFilter } from "./changes.js";
import { controlsToPb, historyEntryToPb, scopeToPb } from "./convert.js";
import { operationsFor, type Operations } from "./operations.js";
import { streamInterrupt } from "./watch.js";

const KINDS: Record<ChangeKind, FeedKind> = {
  session_created: FeedKind.SESSION_CREATED,
  session_deleted: FeedKind.SESSION_DELETED,
  settings: FeedKind.SETTINGS,
  controls: FeedKind.CONTROLS,
};

const SCOPES: Record<ScopeFilter, ChangeFilter["scope"]> = {
  [ScopeFilter.UNSPECIFIED]: undefined,
  [ScopeFilter.SESSIONS]: "sessions",
  [ScopeFilter.DEFAULT]: "default",
};

const messages = new WeakMap<FeedChange, Map<string, WatchChangesResponse>>();
function changeMessage(change: FeedChange, cursor: string): WatchChangesResponse {
  let byCursor = messages.get(change);
  if (!byCursor) messages.set(change, (byCursor = new Map()));
  let message = byCursor.get(cursor);
  if (!message) {
    message = create(WatchChangesResponseSchema, {
      change: {
        cursor,
        sessionId: change.sessionId,
        scope: scopeToPb(change.scope),
        revision: change.revision,
        kind: KINDS[change.kind],
        entry: historyEntryToPb(change.entry),
      },
    });
    byCursor.set(cursor, message);
  }
  return message;
}

export function changesService(ops: Operations): ServiceImpl<typeof ChangesService> {
  const opsOf = operationsFor(ops);
  return {
    async *watchChanges(req, ctx: HandlerContext) {
      const watch = await opsOf(ctx).watchChanges({
        after: req.after,
        filter: { scope: SCOPES[req.scope] ?? undefined, keys: req.keys, sessionIdPrefix: req.sessionIdPrefix || undefined },
        signal: ctx.signal,
        caller: ctx.values.get(principalKey),
        protocol: ctx.protocolName as Protocol,
      });
      // A watcher that falls behind must be ended even while its socket is full.
      ctx.values.set(streamInterrupt, watch.overflow);
      for await (const item of watch) {
        if (item.type === "created") yield { created: true, cursor: item.cursor };
        else if (item.type === "heartbeat") yield { heartbeat: true, cursor: item.cursor };
        else yield changeMessage(item.change, item.cursor);
      }
    },

    async listSettings(req, ctx) {
      const page = await opsOf(ctx).listSettings(req.pageSize, req.pageToken, ctx.values.get(principalKey));
      return {
        items: page.items.map((i) => ({
          sessionId: i.sessionId,
          scope: scopeToPb(i.scope),
          revision: i.tuple.revision,
          settings: i.tuple.settings,
          controls: controlsToPb({ ...i.tuple, settings: undefined }),
        })),
        nextPageToken: page.nextPageToken,
        cursor: page.cursor,
      };
    },
  };
}
