// Reads a REST request body: at most the configured bytes, parsed as JSON.
import { errors, type Issue } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/types.js";
import type { Req } from "../http-json.js";

export type BodyResult = { ok: true; value: JsonValue | undefined } | { ok: false; issues: Issue[] };

/** Throws PAYLOAD_TOO_LARGE past `limit`; a body that is not JSON is reported, not thrown. */
export async function readJsonBody(req: Req, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) throw errors.tooLarge("request body", limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw errors.tooLarge("request body", limit);
    chunks.push(chunk);
  }
  if (size === 0) return { ok: true, value: undefined };
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (err) {
    return { ok: false, issues: [{ path: "", message: `malformed JSON: ${(err as Error).message}` }] };
  }
}
