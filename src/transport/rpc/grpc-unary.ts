// Unary gRPC on the raw HTTP/2 stream: the hottest path, so no
// request/response objects, no Headers unless asked for, one frozen header
// object, one DATA frame and the trailers (or a trailers-only answer on
// error, built as connect builds it, so clients decode it exactly as from
// connect). The call's life is ./call.ts's; this is only its framing.
import type net from "node:net";
import http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { RpcCall } from "./call.js";
import { grpcStatus } from "./connect-protocol.js";
import type { Method, RpcOptions, Wire } from "./types.js";
import { envelope, envelopePrefix, headerRecord, wireOf } from "./wire.js";
import { ENVELOPED } from "../request-body.js";

const { NGHTTP2_NO_ERROR } = http2.constants;
const GRPC: Wire = Object.freeze({ protocol: "grpc", codec: "proto", contentType: "application/grpc" });
const OK_HEADERS = Object.freeze({ ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": "identity" });
const OK_TRAILERS = Object.freeze({ "grpc-status": "0" });
/** Above this, copying an answer into one frame costs more than a second write. */
const SHARED_ANSWER_BYTES = 64 * 1024;

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/** Takes a unary gRPC call on a raw stream; answers false for anything else. */
export function serveGrpcUnary(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, options: RpcOptions): boolean {
  if (headers[":method"] !== "POST") return false;
  const method = options.methods.get(headers[":path"] ?? "");
  if (method?.kind !== "unary") return false;
  if (wireOf(headers, "unary")?.protocol !== "grpc") return false;
  new GrpcUnaryCall(stream, headers, method, options).start();
  return true;
}

class GrpcUnaryCall extends RpcCall {
  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    method: Method,
    options: RpcOptions,
  ) {
    super(method, GRPC, ENVELOPED, options);
  }

  get url(): string {
    return `http://${this.headers[":authority"] ?? "localhost"}${this.headers[":path"] ?? ""}`;
  }

  start(): void {
    this.begin(this.stream);
  }

  protected socket() {
    return this.stream.session?.socket as net.Socket | undefined;
  }

  /** `aborted` fires only when the client resets the stream or drops the connection, never on a normal call. */
  watchClient(gone: () => void): boolean {
    if (this.stream.destroyed || this.stream.aborted) return false;
    this.stream.once("aborted", gone);
    return true;
  }

  /** A reset stream ends too; it must cost nothing more (and count as a reset in h2-guard.ts). */
  protected abandoned(): boolean {
    return this.stream.aborted;
  }

  /** Whatever the client still sends is read and dropped, so that the stream can close. */
  protected dropBody(): void {
    const stream = this.stream;
    if (!stream.destroyed && !stream.readableEnded) stream.resume();
  }

  protected reply(bytes: Uint8Array): void {
    const stream = this.stream;
    if (stream.destroyed) return;
    const { setHeaders, setTrailers } = this.ctx;
    stream.respond(setHeaders ? { ...OK_HEADERS, ...headerRecord(setHeaders) } : OK_HEADERS, { waitForTrailers: true });
    if (setTrailers) stream.once("wantTrailers", () => stream.sendTrailers({ ...headerRecord(setTrailers), "grpc-status": "0" }));
    else stream.once("wantTrailers", sendOkTrailers);
    // A big answer is shared (the snapshot cache): its envelope prefix goes first, never a copy.
    if (bytes.length < SHARED_ANSWER_BYTES) stream.end(envelope(bytes));
    else {
      stream.write(envelopePrefix(bytes.length));
      stream.end(bytes);
    }
  }

  /** An error before any answer: a trailers-only response. */
  protected sendError(error: ConnectError): void {
    const stream = this.stream;
    if (stream.destroyed) return;
    if (stream.headersSent) return void stream.close(NGHTTP2_NO_ERROR);
    const { setHeaders, setTrailers } = this.ctx;
    stream.respond({ ":status": 200, "content-type": "application/grpc", ...(setHeaders && headerRecord(setHeaders)), ...grpcStatus(error, setTrailers) }, { endStream: true });
  }
}
