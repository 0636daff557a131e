// Unary gRPC on the raw HTTP/2 stream: the hottest path, so no compat
// request/response objects, no Headers unless asked for, one frozen header
// object, one DATA frame and the trailers (or a trailers-only answer on
// error, built by connect's own setTrailerStatus so clients decode it
// exactly as from connect).
import http2 from "node:http2";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { LeanContext, type Exchange } from "./context.js";
import type { Method } from "./methods.js";
import { bodyTooLarge, declaredTooLarge, decode, encodeAnswer, envelope, envelopePrefix, headerRecord, requestMessage, wireOf } from "./wire.js";
import type { RpcOptions } from "./compat-call.js";
import { toConnectError } from "../connect-errors.js";

const { NGHTTP2_NO_ERROR } = http2.constants;
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

class GrpcUnaryCall implements Exchange {
  readonly protocolName = "grpc";
  readonly ctx = new LeanContext(this);
  deadline?: number;
  done = false;
  private chunks: Buffer[] = [];
  private size = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    readonly method: Method,
    private readonly options: RpcOptions,
  ) {}

  get url(): string {
    return `http://${this.headers[":authority"] ?? "localhost"}${this.headers[":path"] ?? ""}`;
  }
  get shutdown() {
    return this.options.shutdown;
  }

  values(): ContextValues {
    return this.options.contextValues?.(this.stream.session?.socket) ?? createContextValues();
  }

  /** `aborted` fires only when the client resets the stream or drops the connection, never on a normal call. */
  watchClient(gone: () => void): boolean {
    if (this.stream.destroyed || this.stream.aborted) return false;
    this.stream.once("aborted", gone);
    return true;
  }

  start(): void {
    const stream = this.stream;
    const timeout = this.headers["grpc-timeout"];
    if (timeout !== undefined) {
      const t = parseTimeout(String(timeout), Number.MAX_SAFE_INTEGER);
      if (t.error) return this.fail(t.error);
      this.deadline = Date.now() + t.timeoutMs!;
      this.timer = setTimeout(() => this.fail(new ConnectError("the call timed out", Code.DeadlineExceeded)), t.timeoutMs!);
    }
    const declared = declaredTooLarge(this.headers, this.options.maxBodyBytes);
    if (declared) return this.fail(declared);
    // How long the body may take is bounded per stream by h2-guard.ts.
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.once("end", () => this.onEnd());
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.size += chunk.length;
    const tooLarge = bodyTooLarge(this.size, this.options.maxBodyBytes);
    if (tooLarge) return this.fail(tooLarge);
    this.chunks.push(chunk);
  }

  private onEnd(): void {
    // A reset stream ends too; it must cost nothing more (and count as a reset in h2-guard.ts).
    if (this.done || this.stream.aborted) return;
    let input: MessageShape<DescMessage>;
    try {
      const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      this.chunks = [];
      input = decode(this.method.input, "proto", requestMessage({ protocol: "grpc", codec: "proto", contentType: "" }, "unary", body));
    } catch (err) {
      return this.fail(toConnectError(err, this.options.log, this.method.method.name));
    }
    this.method
      .call(input, this.ctx)
      .then((out) => {
        const encoded = encodeAnswer(this.method.output, "proto", out as MessageShape<DescMessage>);
        return encoded instanceof Promise ? encoded.then((bytes) => this.reply(bytes)) : this.reply(encoded);
      })
      .catch((err: unknown) => this.fail(toConnectError(err, this.options.log, this.method.method.name)));
  }

  private reply(bytes: Uint8Array): void {
    if (this.done) return;
    this.finish();
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
  fail(error: ConnectError): void {
    if (this.done) return;
    this.finish();
    this.ctx.abort(error);
    const stream = this.stream;
    if (stream.destroyed) return;
    this.sendError(error);
    // Whatever the client still sends is read and dropped, so that the stream can close.
    this.chunks = [];
    if (!stream.readableEnded) stream.resume();
  }

  private sendError(error: ConnectError): void {
    const stream = this.stream;
    if (stream.headersSent) return void stream.close(NGHTTP2_NO_ERROR);
    const { setHeaders, setTrailers } = this.ctx;
    const status = setTrailerStatus(new Headers(setTrailers), error);
    stream.respond({ ":status": 200, "content-type": "application/grpc", ...(setHeaders && headerRecord(setHeaders)), ...headerRecord(status) }, { endStream: true });
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
  }
}

