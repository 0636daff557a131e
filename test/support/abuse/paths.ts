// The paths a request takes through the server, as a hostile HTTP/2 client
// sends it: the fast paths (gRPC on the raw stream, Connect through Node's
// compat layer), connect-node (gRPC with JSON, and gzip on gRPC and Connect),
// and REST. The abuse tests run the same attack over each.
import type http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetSettingsRequestSchema } from "../../../gen/codexmanager/settings/v1/settings_pb.js";

export const PATHS = ["grpc", "connect-proto", "rest", "grpc-json", "grpc-gzip", "connect-gzip"] as const;
export type PathName = (typeof PATHS)[number];

/**
 * Paths that build every answer's bytes anew: connect-node encodes the map per call, and REST (as
 * Connect JSON) writes its shared JSON text as new bytes per call. A big answer costs memory per
 * stream on these, for as long as it waits; gRPC and Connect with protobuf share one encoding.
 */
export const COPIES: ReadonlySet<PathName> = new Set(["rest", "grpc-json", "grpc-gzip", "connect-gzip"]);

const GET_SETTINGS = "/codexmanager.settings.v1.SettingsService/GetSettings";

const envelope = (payload: Uint8Array, compressed = false) => {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
};

/** A read of one session's whole map, on `path`: its request headers and body. */
export function readRequest(path: PathName, sessionId: string): { headers: http2.OutgoingHttpHeaders; body?: Buffer } {
  const proto = toBinary(GetSettingsRequestSchema, create(GetSettingsRequestSchema, { sessionId }));
  const json = Buffer.from(JSON.stringify({ sessionId }));
  const rpc = { ":method": "POST", ":path": GET_SETTINGS };
  const grpc = { ...rpc, "content-type": "application/grpc", te: "trailers" };
  switch (path) {
    case "grpc":
      return { headers: grpc, body: envelope(proto) };
    case "connect-proto":
      return { headers: { ...rpc, "content-type": "application/proto", "connect-protocol-version": "1" }, body: Buffer.from(proto) };
    case "rest":
      return { headers: { ":method": "GET", ":path": `/api/sessions/${encodeURIComponent(sessionId)}/settings` } };
    case "grpc-json":
      return { headers: { ...grpc, "content-type": "application/grpc+json" }, body: envelope(json) };
    case "grpc-gzip":
      return { headers: { ...grpc, "grpc-encoding": "gzip", "grpc-accept-encoding": "gzip" }, body: envelope(gzipSync(proto), true) };
    case "connect-gzip":
      return {
        headers: { ...rpc, "content-type": "application/json", "connect-protocol-version": "1", "content-encoding": "gzip", "accept-encoding": "gzip" },
        body: gzipSync(json),
      };
  }
}
