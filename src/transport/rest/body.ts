// Reads a REST request body: declared JSON, within the one body limit
// (../request-body.ts), parsed, with every integer exactly representable.
import { issue, type Issue } from "../../domain/errors.js";
import { inexactIntegers } from "../../domain/exact-integers.js";
import type { JsonValue } from "../../domain/types.js";
import type { Req } from "../http-types.js";
import { BARE, readBody } from "../request-body.js";
import { drainRest } from "../unread-body.js";
import { RestRefusal } from "./errors.js";

export type BodyResult = { ok: true; value: JsonValue | undefined } | { ok: false; issues: Issue[] };

/**
 * A body must say `content-type: application/json`. A web page can send
 * text/plain or a form to any origin without a CORS preflight, but not JSON:
 * so no page can write here unless CORS_ORIGINS lets it.
 */
function notJson(type: string | undefined): RestRefusal {
  const got = type === undefined ? "no content-type" : `content-type ${JSON.stringify(type)}`;
  return new RestRefusal(415, "unsupported_media_type", `a request body must be sent with content-type: application/json (got ${got})`);
}

const isJson = (type: string) => type.split(";", 1)[0]!.trim().toLowerCase() === "application/json";

/**
 * Throws 415 for a body not declared JSON, and PAYLOAD_TOO_LARGE past
 * `limit` (../request-body.ts); a body that is not JSON, or holds an integer
 * a double cannot hold exactly, is reported, not thrown.
 */
export async function readJsonBody(req: Req, limit: number): Promise<BodyResult> {
  const type = req.headers["content-type"];
  if (type !== undefined && !isJson(type)) {
    drainRest(req);
    throw notJson(type);
  }
  const body = await readBody(req, limit, BARE);
  if (body.length === 0) return { ok: true, value: undefined };
  if (type === undefined) throw notJson(type);
  let value: JsonValue;
  try {
    value = JSON.parse(body.toString("utf8")) as JsonValue;
  } catch (err) {
    return { ok: false, issues: [issue([], `malformed JSON: ${(err as Error).message}`, "invalid_format")] };
  }
  const inexact = inexactIntegers(body);
  return inexact.length > 0 ? { ok: false, issues: inexact } : { ok: true, value };
}
