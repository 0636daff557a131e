// What a REST route handler gets and answers, shared by the route modules.
import type { Principal } from "../../auth.js";
import type { Logger } from "../../observe/log.js";
import type { Operations } from "../../service/operations.js";
import type { Req, Res } from "../http-types.js";
import type { RestAnswer } from "./errors.js";

/**
 * One REST call. A class with a prototype getter, not an object literal with
 * its own `get signal()`: with the literal, V8 kept what the call pointed to
 * (the request, the response, their buffers) alive through scavenges. Under
 * load 17-30 % of the bytes a REST call allocated survived the young
 * generation and were promoted (node --trace-gc-nvp), to be freed by
 * mark-compacts; as a class, 0.1 %.
 */
export class Ctx {
  /** The authenticated caller; undefined while authentication is off. */
  caller?: Principal;
  /** Path parameters, URL-decoded. */
  params: string[] = [];
  /** The actor the request declared, once read, for the call's log line. */
  declaredActor?: string;
  private aborted?: AbortSignal;

  constructor(
    readonly req: Req,
    readonly res: Res,
    readonly log: Logger,
    readonly query: URLSearchParams,
    public ops: Operations,
    private readonly shutdown: AbortSignal,
  ) {
    this.declaredActor = query.get("actor") || undefined;
  }

  /** Aborted when the client goes away or the server shuts down; made only for a route that asks (the event stream). */
  get signal(): AbortSignal {
    return (this.aborted ??= clientOrServerGone(this.res, this.shutdown));
  }
}

/** Aborts when the client goes away (the response closes unfinished) or the server shuts down. */
function clientOrServerGone(res: Res, shutdown: AbortSignal): AbortSignal {
  const gone = new AbortController();
  res.once("close", () => gone.abort());
  return AbortSignal.any([gone.signal, shutdown]);
}

/** Answers JSON, or undefined when the handler wrote the response itself (SSE). */
export type Handler = (ctx: Ctx) => Promise<RestAnswer | undefined>;

export const ok = (body: unknown): RestAnswer => ({ status: 200, body });
/** A write's answer; a replayed request id says so in a header. */
export const written = (body: unknown, replayed: boolean | undefined): RestAnswer =>
  replayed ? { status: 200, body, headers: { "idempotent-replayed": "true" } } : ok(body);

/**
 * An answer that ends with a whole map and its revision: `head`'s fields, then
 * "settings" (JSON text already, not parsed and printed again) and "revision".
 */
export function withSettings(head: object, settingsJson: string, revision: bigint, replayed?: boolean): RestAnswer {
  const raw = `${JSON.stringify(head).slice(0, -1)},"settings":${settingsJson},"revision":${revision}}`;
  return { ...written(undefined, replayed), raw };
}

