// Reads a REST request body: declared JSON, at most the configured bytes,
// parsed, with every integer exactly representable.
import { issue, type Issue } from "../../domain/errors.js";
import { inexactIntegers } from "../../domain/exact-integers.js";
import { limitErrors } from "../../domain/limits.js";
import type { JsonValue } from "../../domain/types.js";
import type { Req } from "../http-types.js";
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
 * `limit` (the rest of the body is drained so the client can read the
 * answer); a body that is not JSON, or holds an integer a double cannot hold
 * exactly, is reported, not thrown.
 */
export async function readJsonBody(req: Req, limit: number): Promise<BodyResult> {
  const type = req.headers["content-type"];
  if (type !== undefined && !isJson(type)) {
    drainRest(req);
    throw notJson(type);
  }
  const tooLarge = () => limitErrors.body(limit);
  if (Number(req.headers["content-length"]) > limit) {
    drainRest(req);
    throw tooLarge();
  }
  // Plain listeners, not `for await`: leaving an async iterator early destroys
  // the request, and with it the connection the 413 has to travel on.
  const body = await new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off("data", onData);
      req.off("end", onEnd);
      drainRest(req, size);
      reject(tooLarge());
    };
    const onEnd = () => resolve(size === 0 ? undefined : Buffer.concat(chunks, size));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
  if (body === undefined) return { ok: true, value: undefined };
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
