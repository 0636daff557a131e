// One fast-path call over Node's request and response objects (http, or
// http2's request/response API): unary Connect (JSON or binary, HTTP/1.1
// or 2), gRPC-Web, and every server stream (gRPC, gRPC-Web, Connect). The
// call's life is ./call.ts's; this is its framing on each protocol. Streams
// write nothing past a full socket buffer (they wait for it to drain, the
// watcher's backlog absorbing the rest); an answer the client does not take
// is dropped by the connection's guard.
import type net from "node:net";
import type { ConnectError } from "@connectrpc/connect";
import { streamInterrupt } from "../../service/watch.js";
import type { Req, Res } from "../http-types.js";
import { drained, finish, gone } from "../stream-writer.js";
import { drainRest } from "../unread-body.js";
import { RpcCall } from "./call.js";
import { connectEndStream, connectUnaryError, grpcStatus, grpcWebTrailers } from "./connect-protocol.js";
import type { Message, Method, RpcOptions, Wire } from "./types.js";
import { copyHeaders, envelope, envelopeOnce, framingOf, wireOf } from "./wire.js";

/** Serves the call if the fast path speaks its wire; answers false to leave it to connect-node. */
export function serveOnResponse(req: Req, res: Res, path: string, options: RpcOptions): boolean {
  if (req.method !== "POST") return false;
  const method = options.methods.get(path);
  if (!method) return false;
  const wire = wireOf(req.headers, method.kind);
  // gRPC needs HTTP/2 trailers; unary gRPC on HTTP/2 is served earlier, on the raw stream.
  if (!wire || (wire.protocol === "grpc" && req.httpVersionMajor !== 2)) return false;
  new ResponseCall(req, res, method, wire, path, options).start();
  return true;
}

class ResponseCall extends RpcCall {
  constructor(
    private readonly req: Req,
    private readonly res: Res,
    method: Method,
    wire: Wire,
    private readonly path: string,
    options: RpcOptions,
  ) {
    super(method, wire, framingOf(wire, method.kind), options);
  }

  get headers() {
    return this.req.headers;
  }
  get url() {
    return `http://${this.req.headers.host ?? this.req.headers[":authority"] ?? "localhost"}${this.path}`;
  }

  start(): void {
    this.begin(this.req);
  }

  protected socket() {
    return this.req.socket as net.Socket | undefined;
  }

  watchClient(onGone: () => void): boolean {
    if (gone(this.res)) return false;
    // Closed before we ended our answer: the client went away.
    this.res.once("close", () => {
      if (!this.res.writableEnded) onGone();
    });
    return true;
  }

  protected abandoned(): boolean {
    return false;
  }

  /** The rest of the body is read and thrown away, within bounds (../unread-body.ts). */
  protected dropBody(read: number): void {
    drainRest(this.req, read);
  }

  /** A unary answer: the message, headers and trailers in the wire's form. */
  protected reply(bytes: Uint8Array): void {
    if (this.wire.protocol === "connect") {
      this.head(200, { "content-length": String(bytes.length) }, this.ctx.setTrailers);
      finish(this.res, bytes);
      return;
    }
    // gRPC-Web unary: one envelope, then the trailers envelope.
    this.head(200);
    this.res.write(envelope(bytes));
    finish(this.res, grpcWebTrailers(undefined, this.ctx.setTrailers));
  }

  protected override async streamAnswers(messages: AsyncIterable<Message>): Promise<void> {
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

  protected sendError(error: ConnectError): void {
    if (this.res.headersSent) return this.endStream(error);
    if (this.wire.protocol === "connect" && this.method.kind === "unary") {
      const answer = connectUnaryError(error);
      this.res.writeHead(answer.status, answer.headers);
      finish(this.res, answer.body);
      return;
    }
    this.head(200);
    this.endStream(error);
  }

  private endStream(error: ConnectError | undefined): void {
    if (gone(this.res)) return;
    const trailers = this.ctx.setTrailers;
    switch (this.wire.protocol) {
      case "grpc":
        this.res.addTrailers(grpcStatus(error, trailers));
        return finish(this.res);
      case "grpc-web":
        return finish(this.res, grpcWebTrailers(error, trailers));
      case "connect":
        return finish(this.res, connectEndStream(error, trailers));
    }
  }

  /** Response headers: the content type and what the implementation set (and, for Connect unary, its trailers as trailer-*). */
  private head(status: number, extra: Record<string, string> = {}, unaryTrailers?: Headers): void {
    const out: Record<string, string> = { ...extra, "content-type": this.wire.contentType };
    if (this.wire.protocol !== "connect") out["grpc-accept-encoding"] = "identity";
    copyHeaders(out, this.ctx.setHeaders);
    copyHeaders(out, unaryTrailers, "trailer-");
    this.res.writeHead(status, out);
  }
}
