// connect-es's protocol helpers, used here and nowhere else. They come from
// its /protocol-* entry points, which connect marks internal ("does not
// follow semantic versioning"), so an upgrade may change them: with every
// use in this one module, test/connect-protocol.test.ts holds what each
// answers, byte for byte, and fails first. Our answers must stay exactly
// connect's, so that its clients decode the fast path's as connect-node's.
import type { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString, endStreamFlag, endStreamToJson, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { Req, Res } from "../http-types.js";
import type { ProtocolName } from "./types.js";
import { envelope, headerRecord } from "./wire.js";

/** The header that carries a call's timeout on each protocol. */
export const TIMEOUT_HEADER: Record<ProtocolName, string> = {
  grpc: "grpc-timeout",
  "grpc-web": "grpc-timeout",
  connect: "connect-timeout-ms",
};

/** A call's timeout from its header (grpc-timeout "5S", connect-timeout-ms "5000"), or the error that refuses the call. */
export function parseCallTimeout(protocol: ProtocolName, value: string): { timeoutMs?: number; error?: ConnectError } {
  return protocol === "connect" ? parseConnectTimeout(value, Number.MAX_SAFE_INTEGER) : parseGrpcTimeout(value, Number.MAX_SAFE_INTEGER);
}

/** gRPC's status trailers (grpc-status, grpc-message, grpc-status-details-bin), after what the call set. */
export function grpcStatus(error: ConnectError | undefined, trailers?: Headers): Record<string, string> {
  return headerRecord(setTrailerStatus(new Headers(trailers), error));
}

/** gRPC-Web's last envelope: the trailers, with the status. */
export function grpcWebTrailers(error: ConnectError | undefined, trailers?: Headers): Buffer {
  return envelope(trailerSerialize(setTrailerStatus(new Headers(trailers), error)), trailerFlag);
}

/** A Connect stream's last envelope: its end-of-stream message (the error, the trailers). */
export function connectEndStream(error: ConnectError | undefined, trailers?: Headers): Buffer {
  return envelope(Buffer.from(JSON.stringify(endStreamToJson(trailers ?? new Headers(), error, {}))), endStreamFlag);
}

/** A Connect unary error: its HTTP status, headers and JSON body. */
export function connectUnaryError(error: ConnectError): { status: number; headers: Record<string, string>; body: Uint8Array } {
  return {
    status: codeToHttpStatus(error.code),
    headers: { "content-type": "application/json", ...headerRecord(error.metadata) },
    body: errorToJsonBytes(error, {}),
  };
}

/** A code's name as Connect spells it ("not_found"), for logs, metrics and REST. */
export function codeName(code: Code): string {
  return codeToString(code);
}

/** A call refused before it started: gRPC and gRPC-Web trailers-only, a Connect stream's end message, or Connect unary's error JSON. */
export function refuseCall(req: Req, res: Res, error: ConnectError): void {
  const type = (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim();
  if (type.startsWith("application/grpc")) {
    res.writeHead(200, { "content-type": type, ...grpcStatus(error) });
    res.end();
  } else if (type.startsWith("application/connect+")) {
    res.writeHead(200, { "content-type": type });
    res.end(connectEndStream(error));
  } else {
    const answer = connectUnaryError(error);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }
}
