// One fast-path call over Node's http / http2 compatibility API: unary
// Connect (JSON or binary, HTTP/1.1 or 2), gRPC-Web, and every server stream
// (gRPC, gRPC-Web, Connect). Streams write nothing past a full socket buffer
// (they wait for it to drain, the watcher's backlog absorbing the rest); an
// answer the client does not take is dropped by the connection's guard.
import type net from "node:net";
import { Code, ConnectError, createContextValues, type ContextValues } from "@connectrpc/connect";
import { streamInterrupt } from "../../service/watch.js";
import type { Logger } from "../../observe/log.js";
import { toConnectError } from "../connect-errors.js";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Req, Res } from "../http-json.js";
import { drained, finish, gone } from "../stream-writer.js";
import { drainRest } from "../unread-body.js";
import { LeanContext, type Exchange } from "./context.js";
import type { Method } from "./methods.js";
import { bodyTooLarge, declaredTooLarge, decode, encodeAnswer, envelope, envelopeOnce, headerRecord, requestMessage, wireOf, type Wire } from "./wire.js";

export interface RpcOptions {
  methods: Map<string, Method>;
  /** Values every call's context starts with, from its connection (the peer, when something reads it). */
  contextValues?: (socket: net.Socket | undefined) => ContextValues;
  maxBodyBytes: number;
  log: Logger;
  shutdown: AbortSignal;
}

/** Serves the call if the fast path speaks its wire; answers false to leave it to connect-node. */
export function serveCompat(req: Req, res: Res, path: string, options: RpcOptions): boolean {
  if (req.method !== "POST") return false;
  const method = options.methods.get(path);
  if (!method) return false;
  const wire = wireOf(req.headers, method.kind);
  // gRPC needs HTTP/2 trailers; unary gRPC on HTTP/2 is served earlier, on the raw stream.
  if (!wire || (wire.protocol === "grpc" && req.httpVersionMajor !== 2)) return false;
  new CompatCall(req, res, method, wire, path, options).start();
  return true;
}

class CompatCall implements Exchange {
  readonly ctx = new LeanContext(this);
  readonly protocolName;
  deadline?: number;
  done = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly req: Req,
    private readonly res: Res,
    readonly method: Method,
    private readonly wire: Wire,
    private readonly path: string,
    private readonly options: RpcOptions,
  ) {
    this.protocolName = wire.protocol;
  }

  get headers() {
    return this.req.headers;
  }
  get url() {
    return `http://${this.req.headers.host ?? this.req.headers[":authority"] ?? "localhost"}${this.path}`;
  }
  get shutdown() {
    return this.options.shutdown;
  }

  values(): ContextValues {
    return this.options.contextValues?.(this.req.socket) ?? createContextValues();
  }

  watchClient(onGone: () => void): boolean {
    if (gone(this.res)) return false;
    // Closed before we ended our answer: the client went away.
    this.res.once("close", () => {
      if (!this.res.writableEnded) onGone();
    });
    return true;
  }

  start(): void {
    const timeout = this.wire.protocol === "connect"
      ? parseConnectTimeout(header(this.req, "connect-timeout-ms"), Number.MAX_SAFE_INTEGER)
      : parseGrpcTimeout(header(this.req, "grpc-timeout"), Number.MAX_SAFE_INTEGER);
    if (timeout.error) return this.fail(timeout.error);
    // A body declared too large is refused at once, not waited for (the rest is drained, within bounds).
    const declared = declaredTooLarge(this.req.headers, this.options.maxBodyBytes);
    if (declared) {
      drainRest(this.req);
      return this.fail(declared);
    }
    if (timeout.timeoutMs !== undefined) {
      this.deadline = Date.now() + timeout.timeoutMs;
      this.timer = setTimeout(() => this.fail(new ConnectError("the call timed out", Code.DeadlineExceeded)), timeout.timeoutMs);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // How long the body may take is bounded per connection (one-port.ts, h2-guard.ts).
    this.req.on("data", (chunk: Buffer) => {
      if (this.done) return;
      size += chunk.length;
      const tooLarge = bodyTooLarge(size, this.options.maxBodyBytes);
      if (tooLarge) {
        this.req.removeAllListeners("data");
        drainRest(this.req, size);
        return this.fail(tooLarge);
      }
      chunks.push(chunk);
    });
    this.req.once("end", () => {
      if (this.done) return;
      try {
        const bytes = requestMessage(this.wire, this.method.kind, Buffer.concat(chunks, size));
        const input = decode(this.method.input, this.wire.codec, bytes);
        this.method.call(input, this.ctx).then(
          (out) => (this.method.kind === "unary" ? this.answer(out as MessageShape<DescMessage>) : this.stream(out as AsyncIterable<MessageShape<DescMessage>>)),
          (err: unknown) => this.fail(this.failure(err)),
        ).catch((err: unknown) => this.fail(this.failure(err)));
      } catch (err) {
        this.fail(this.failure(err));
      }
    });
  }

  /** A unary answer: the message, headers and trailers in the wire's form. */
  private async answer(message: MessageShape<DescMessage>): Promise<void> {
    if (this.done) return;
    const encoded = encodeAnswer(this.method.output, this.wire.codec, message);
    const bytes = encoded instanceof Promise ? await encoded : encoded;
    if (this.done) return;
    this.finish();
    if (this.wire.protocol === "connect") {
      this.head(200, { "content-length": String(bytes.length) }, this.ctx.setTrailers);
      finish(this.res, bytes);
      return;
    }
    // gRPC-Web unary: one envelope, then the trailers envelope.
    this.head(200);
    this.res.write(envelope(bytes));
    finish(this.res, this.trailerFrame());
  }

  private async stream(messages: AsyncIterable<MessageShape<DescMessage>>): Promise<void> {
    if (this.done) return;
    this.head(200);
    const res = this.res;
    let error: ConnectError | undefined;
    try {
      for await (const message of messages) {
        // Ended meanwhile (deadline, client gone): leaving the loop ends the implementation's stream too.
        if (this.done || gone(res)) return;
        if (!res.write(envelopeOnce(this.method.output, this.wire.codec, message))) await drained(res, this.ctx.signal, this.ctx.values.get(streamInterrupt));
      }
    } catch (err) {
      error = this.failure(err);
    }
    if (this.done) return;
    this.finish();
    this.endStream(error);
  }

  /** Fails the call: before any answer, in the wire's error form; during a stream, as its end. */
  fail(error: ConnectError): void {
    if (this.done) return;
    this.finish();
    this.ctx.abort(error);
    if (this.res.headersSent) return this.endStream(error);
    if (this.wire.protocol === "connect" && this.method.kind === "unary") {
      const body = errorToJsonBytes(error, {});
      this.res.writeHead(codeToHttpStatus(error.code), { "content-type": "application/json", ...headerRecord(error.metadata) });
      finish(this.res, body);
      return;
    }
    this.head(200);
    this.endStream(error);
  }

  private endStream(error: ConnectError | undefined): void {
    if (gone(this.res)) return;
    switch (this.wire.protocol) {
      case "grpc": {
        const trailers = new Headers(this.ctx.setTrailers);
        setTrailerStatus(trailers, error);
        this.res.addTrailers(headerRecord(trailers));
        return finish(this.res);
      }
      case "grpc-web":
        return finish(this.res, this.trailerFrame(error));
      case "connect": {
        const json = endStreamToJson(this.ctx.setTrailers ?? new Headers(), error, {});
        return finish(this.res, envelope(Buffer.from(JSON.stringify(json)), endStreamFlag));
      }
    }
  }

  private trailerFrame(error?: ConnectError): Buffer {
    const trailers = new Headers(this.ctx.setTrailers);
    setTrailerStatus(trailers, error);
    return envelope(trailerSerialize(trailers), trailerFlag);
  }

  /** Response headers: the content type and what the implementation set (and, for Connect unary, its trailers as trailer-*). */
  private head(status: number, extra: Record<string, string> = {}, unaryTrailers?: Headers): void {
    const out: Record<string, string> = { ...extra, "content-type": this.wire.contentType };
    if (this.wire.protocol !== "connect") out["grpc-accept-encoding"] = "identity";
    this.ctx.setHeaders?.forEach((v, k) => (out[k] = v));
    unaryTrailers?.forEach((v, k) => (out[`trailer-${k}`] = v));
    this.res.writeHead(status, out);
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
  }

  /** Any failure as the client may see it: a fault of ours is logged and answered as a bare `internal`. */
  private failure(err: unknown): ConnectError {
    return toConnectError(err, this.options.log, this.method.method.name);
  }
}

function header(req: Req, name: string): string | null {
  const v = req.headers[name];
  return typeof v === "string" ? v : null;
}

