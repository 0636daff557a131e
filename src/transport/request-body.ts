// The one request-body limit, for every path that reads a body: REST, the
// fast path's calls (./rpc) and connect-node (./connect-fallback.ts).
//
// Limits.maxBodyBytes bounds a request's message as it is sent: the whole
// body of a bare request (REST, Connect unary), or the payload of the one
// envelope of an enveloped one (gRPC, gRPC-Web, Connect streams; the
// envelope's 5-byte prefix does not count). A compressed message is held to
// it again once decompressed (connect-fallback.ts). Past it, every path
// answers the same PAYLOAD_TOO_LARGE (domain/limits.ts), and the rest of the
// body is read and dropped so that the client can read that answer
// (./unread-body.ts).
import type { IncomingHttpHeaders } from "node:http";
import type { DomainError } from "../domain/errors.js";
import { limitErrors } from "../domain/limits.js";
import type { Req } from "./http-types.js";
import { drainRest } from "./unread-body.js";

/** Bytes a body holds besides its message: an envelope's prefix, or none. */
export type Framing = 0 | 5;
export const ENVELOPED: Framing = 5;
export const BARE: Framing = 0;

/** The refusal of a body past `limit`, the same on every path. */
export const bodyTooLarge = (limit: number): DomainError => limitErrors.body(limit);

/** Whether a body declares (content-length) more than `limit` allows: refused before a byte of it is read. */
export function declaredTooLarge(headers: IncomingHttpHeaders, limit: number, framing: Framing): boolean {
  // An absent or malformed length is NaN, and NaN is never too large: the bytes are counted instead.
  return Number(headers["content-length"]) > limit + framing;
}

/** A body's chunks, kept while it is within the limit. */
export class BodyBuffer {
  /** The first chunk, and the rest once there are more (most bodies come in one). */
  private first?: Buffer;
  private more?: Buffer[];
  size = 0;

  constructor(
    private readonly limit: number,
    private readonly framing: Framing,
  ) {}

  /** Keeps `chunk`; false once the body is past the limit (and nothing is kept any more). */
  add(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.limit + this.framing) {
      this.clear();
      return false;
    }
    if (this.first === undefined) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
    return true;
  }

  /** Lets go of what was kept. */
  clear(): void {
    this.first = undefined;
    this.more = undefined;
  }

  /** The whole body, handed over once. */
  take(): Buffer {
    const { first, more } = this;
    this.clear();
    return more ? Buffer.concat(more, this.size) : (first ?? EMPTY);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads a whole body, or rejects with the refusal past `limit` (the rest is
 * drained). Plain listeners, not `for await`: leaving an async iterator
 * early destroys the request, and with it the connection the refusal has to
 * travel on.
 */
export function readBody(req: Req, limit: number, framing: Framing): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    if (declaredTooLarge(req.headers, limit, framing)) {
      drainRest(req);
      return reject(bodyTooLarge(limit));
    }
    const body = new BodyBuffer(limit, framing);
    const onData = (chunk: Buffer) => {
      if (body.add(chunk)) return;
      req.off("data", onData);
      req.off("end", onEnd);
      drainRest(req, body.size);
      reject(bodyTooLarge(limit));
    };
    const onEnd = () => resolve(body.take());
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}
