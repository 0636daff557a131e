// REST routes compatible with codex-manager's API (SPEC §5).
import type { Operations } from "../../service/operations.js";
import type { RouteHandler } from "../server.js";

export function restRoutes(_ops: Operations): RouteHandler {
  return async () => false;
}
