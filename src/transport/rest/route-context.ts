// What a REST route handler gets and answers, shared by the route modules.
import type { Principal } from "../../auth.js";
import type { Logger } from "../../observe/log.js";
import type { Operations } from "../../service/operations.js";
import type { Req, Res } from "../http-types.js";
import type { RestAnswer } from "./errors.js";

export interface Ctx {
  /** The authenticated caller; undefined while authentication is off. */
  caller?: Principal;
  req: Req;
  res: Res;
  log: Logger;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
  /** Path parameters, URL-decoded. */
  params: string[];
  query: URLSearchParams;
  ops: Operations;
  /** The actor the request declared, once read, for the call's log line. */
  declaredActor?: string;
}

/** Answers JSON, or undefined when the handler wrote the response itself (SSE). */
export type Handler = (ctx: Ctx) => Promise<RestAnswer | undefined>;

export const ok = (body: unknown): RestAnswer => ({ status: 200, body });
/** A write's answer; a replayed request id says so in a header. */
export const written = (body: unknown, replayed: boolean | undefined): RestAnswer =>
  replayed ? { status: 200, body, headers: { "idempotent-replayed": "true" } } : ok(body);

