// Reads a REST request body: at most the configured bytes, parsed as JSON.
import { errors, issue, type Issue } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/types.js";
import type { Req } from "../http-json.js";
import { drainRest } from "../unread-body.js";

export type BodyResult = { ok: true; value: JsonValue | undefined } | { ok: false; issues: Issue[] };

/**
 * Throws PAYLOAD_TOO_LARGE past `limit`, and leaves the rest of the body to be
 * drained so the client can read the 413; a body that is not JSON is
 * reported, not thrown.
 */
export async function readJsonBody(req: Req, limit: number): Promise<BodyResult> {
  const tooLarge = () => errors.tooLarge("request body", limit);
  if (Number(req.headers["content-length"]) > limit) {
    drainRest(req);
    throw tooLarge();
  }
  // Plain listeners, not `for await`: leaving an async iterator early destroys
  // the request, and with it the connection the 413 has to travel on.
  const text = await new Promise<string | undefined>((resolve, reject) => {
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
    const onEnd = () => resolve(size === 0 ? undefined : Buffer.concat(chunks).toString("utf8"));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
  if (text === undefined) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (err) {
    return { ok: false, issues: [issue([], `malformed JSON: ${(err as Error).message}`, "invalid_format")] };
  }
}
