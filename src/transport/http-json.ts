// Small helpers for the JSON answers outside Connect (health, REST).
import type { Res } from "./http-types.js";
import { finish } from "./stream-writer.js";

/** A JSON answer (`body` is JSON text already when `isText`). */
export function sendJson(res: Res, status: number, body: unknown, headers?: Record<string, string>, isText = false): void {
  const text = isText ? (body as string) : JSON.stringify(body);
  const head = { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" };
  res.writeHead(status, headers ? { ...headers, ...head } : head);
  finish(res, text);
}
