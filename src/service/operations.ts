// The service's operations over a Store, in domain terms, shared by every
// transport: Connect/gRPC handlers and REST routes both call these. Each
// follows SPEC §4's order of checks (./requests.ts): identifiers, session
// state, payload, lock, revision, apply.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Store } from "../store/store.js";
import { readOperations, readState, type ReadState } from "./reads.js";
import { requestChecks, type OperationHooks, type OperationsConfig } from "./requests.js";
import { schemaOperations } from "./schemas.js";
import { sessionOperations } from "./sessions.js";
import { settingsWrites } from "./settings-writes.js";

export type { ControlsView } from "./reads.js";
export type { CreateSessionInput, OperationHooks, OperationsConfig, SettingsUpdate, WriteInput } from "./requests.js";
export { summarize } from "./settings-writes.js";

export { readState as operationsState, type ReadState as OperationsState };

/** `state` is what operations over the same data share (caches): one per server, even when there are several Operations. */
export function createOperations(store: Store, config: OperationsConfig, hooks: OperationHooks = {}, state: ReadState = readState(config)) {
  const req = requestChecks(store, config);
  return {
    config,
    ...sessionOperations(store, req),
    ...settingsWrites(store, req),
    ...readOperations(store, config, req, hooks, state),
    ...schemaOperations(store, req, config),
  };
}

export type Operations = ReturnType<typeof createOperations>;

/**
 * A call's own operations, when it has them (over a store that records each operation in the
 * call's trace: observe/tracing.ts); RPC handlers use the server's otherwise.
 */
export const callOperations = createContextKey<Operations | undefined>(undefined, { description: "this call's operations" });

/** The operations a call runs: its own when it has them, else the server's `ops`. */
export const operationsFor = (ops: Operations) => (ctx: HandlerContext) => ctx.values.get(callOperations) ?? ops;
