// The service's operations over a Store, in domain terms, shared by every
// transport: Connect/gRPC handlers and REST routes both call these. Each
// follows SPEC §4's order of checks (./requests.ts): identifiers, session
// state, payload, lock, revision, apply.
import type { Store } from "../store/store.js";
import { readOperations, type OperationHooks } from "./reads.js";
import { requestChecks, type OperationsConfig } from "./requests.js";
import { schemaOperations } from "./schemas.js";
import { sessionOperations } from "./sessions.js";
import { settingsWrites } from "./settings-writes.js";

export type { ControlsView, OperationHooks } from "./reads.js";
export type { CreateSessionInput, OperationsConfig, SettingsUpdate, WriteInput } from "./requests.js";
export { summarize } from "./settings-writes.js";

export function createOperations(store: Store, config: OperationsConfig, hooks: OperationHooks = {}) {
  const req = requestChecks(store, config);
  return {
    config,
    ...sessionOperations(store, req),
    ...settingsWrites(store, req),
    ...readOperations(store, config, req, hooks),
    ...schemaOperations(store, req, config),
  };
}

export type Operations = ReturnType<typeof createOperations>;
