// Session operations: create (copying the default tuple), get, list a page
// at a time, and delete (leaving a tombstone).
import { randomUUID } from "node:crypto";
import { authorize, type Principal } from "../auth.js";
import { MAX_CWD_LENGTH, PAGE_SIZE } from "../domain/limits.js";
import { CONTROL_NAMES, type ControlFields } from "../domain/types.js";
import type { Store } from "../store/store.js";
import type { CreateSessionInput, RequestChecks } from "./requests.js";


export function sessionOperations(store: Store, req: RequestChecks) {
  return {
    async createSession(input: CreateSessionInput) {
      authorize(input.caller, input.systemOwned ? "admin" : "write", input.systemOwned ? "create system-owned sessions" : "create sessions");
      const r = req.rules();
      const sessionId = input.sessionId === undefined ? randomUUID() : r.sessionId("sessionId", input.sessionId);
      const cwd = input.cwd ?? "";
      if (cwd.length > MAX_CWD_LENGTH) r.fail("cwd", `must be at most ${MAX_CWD_LENGTH} characters`);
      const overrides: Partial<ControlFields> = {};
      for (const name of CONTROL_NAMES) {
        const value = input.overrides[name];
        if (value !== undefined) Object.assign(overrides, { [name]: r.control(name, name, value) });
      }
      r.throwIfInvalid();
      return store.createSession({
        sessionId: sessionId!,
        cwd,
        systemOwned: input.systemOwned ?? false,
        createdAt: new Date(),
        overrides,
      });
    },

    async getSession(sessionId: string, caller?: Principal) {
      authorize(caller, "read", "read sessions");
      req.identifiers(sessionId);
      return store.getSession(sessionId);
    },

    async listSessions(pageSize: number, pageToken: string, caller?: Principal) {
      authorize(caller, "read", "list sessions");
      const r = req.rules();
      let after: string | undefined;
      if (pageToken !== "") {
        after = Buffer.from(pageToken, "base64url").toString("utf8");
        r.sessionId("pageToken", after);
      }
      const limit = pageLimit(r, "pageSize", pageSize);
      r.throwIfInvalid();
      const page = await store.listSessions(limit, after);
      return {
        sessions: page.sessions,
        nextPageToken: page.nextAfter === undefined ? "" : Buffer.from(page.nextAfter).toString("base64url"),
      };
    },

    async deleteSession(sessionId: string, caller?: Principal): Promise<{ sessionId: string; deletedAt: Date }> {
      authorize(caller, "write", "delete sessions");
      req.identifiers(sessionId);
      const { deletedAt } = await store.deleteSession(sessionId, new Date());
      return { sessionId, deletedAt };
    },
  };
}

/** A page size as asked (0 means the default), checked and capped. */
export function pageLimit(r: ReturnType<RequestChecks["rules"]>, where: string, size: number): number {
  if (!Number.isInteger(size) || size < 0) r.fail(where, "must be a non-negative integer");
  return Math.min(size || PAGE_SIZE.default, PAGE_SIZE.max);
}
