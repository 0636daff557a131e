// Small helpers for the JSON answers outside Connect (health, REST).
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

// connect-node's own request/response types, which cover http and http2.
type Fallback = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
export type Req = Parameters<Fallback>[0];
export type Res = Parameters<Fallback>[1];

export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}
