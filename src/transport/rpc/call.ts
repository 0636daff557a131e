// One fast-path call, whatever its protocol: its deadline, its request body
// and the body limit, running the method, and ending once (answer or
// failure), with the client's going away noticed. The protocols (unary gRPC
// on a raw HTTP/2 stream, ./grpc-unary.ts; everything else over Node's
// request/response objects, ./response-call.ts) supply only their framing:
// how the client is watched, how a body left unread is dropped, and how an
// answer, a stream or an error is written.
import type { IncomingHttpHeaders } from "node:http";
import type net from "node:net";
import { Code, ConnectError, createContextValues, type ContextValues } from "@connectrpc/connect";
import { BodyBuffer, bodyTooLarge, declaredTooLarge, type Framing } from "../request-body.js";
import { domainToConnect, toConnectError } from "../connect-errors.js";
import { CallContext } from "./call-context.js";
import { parseCallTimeout, TIMEOUT_HEADER } from "./connect-protocol.js";
import type { Exchange, Message, Method, ProtocolName, RpcOptions, Wire } from "./types.js";
import { decode, encodeAnswer, requestMessage } from "./wire.js";

/** The source of a request body: an HTTP/2 stream, or a request object. */
interface BodySource {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  off(event: "data", listener: (chunk: Buffer) => void): unknown;
  once(event: "end", listener: () => void): unknown;
}

const CALL = Symbol("rpc call");
type Source = BodySource & { [CALL]?: RpcCall };

function onCallData(this: Source, chunk: Buffer): void {
  this[CALL]?.["data"](chunk, this);
}
function onCallEnd(this: Source): void {
  this[CALL]?.["bodyEnd"]();
}

export abstract class RpcCall implements Exchange {
  readonly ctx = new CallContext(this);
  deadline?: number;
  done = false;
  private timer?: NodeJS.Timeout;
  private readonly body: BodyBuffer;
  /** Set once the whole body has arrived. */
  private bodyEnded = false;

  abstract readonly headers: IncomingHttpHeaders;
  abstract readonly url: string;

  constructor(
    readonly method: Method,
    protected readonly wire: Wire,
    private readonly framing: Framing,
    protected readonly options: RpcOptions,
  ) {
    this.body = new BodyBuffer(options.limits.maxBodyBytes, framing);
  }

  get protocolName(): ProtocolName {
    return this.wire.protocol;
  }
  get shutdown(): AbortSignal {
    return this.options.shutdown;
  }

  /** The connection the call came on (its peer). */
  protected abstract socket(): net.Socket | undefined;

  /** Values the call's context starts with (the peer, when something reads it). */
  values(): ContextValues {
    return this.options.contextValues?.(this.socket()) ?? createContextValues();
  }

  /** Registers `gone` to run once if the client goes away; false if it already has. */
  abstract watchClient(gone: () => void): boolean;
  /** Whether the client reset the call before its body ended (then it costs nothing more). */
  protected abstract abandoned(): boolean;
  /** Drops what the client still sends of a body the call answered before reading (`read` bytes so far). */
  protected abstract dropBody(read: number): void;
  /** Writes a unary answer's bytes. */
  protected abstract reply(bytes: Uint8Array): void;
  /** Writes a stream of answers, then its end (on the wires that carry streams). */
  protected streamAnswers(_messages: AsyncIterable<Message>): Promise<void> {
    return Promise.reject(new ConnectError(`${this.wire.protocol} streams are not served on this path`, Code.Internal));
  }
  /** Writes an error: before any answer in the protocol's error form, during a stream as its end. */
  protected abstract sendError(error: ConnectError): void;

  /** Takes the call from its headers: the timeout, a body declared too large, then the body from `source`. */
  protected begin(source: BodySource): void {
    const header = this.headers[TIMEOUT_HEADER[this.wire.protocol]];
    let timeoutMs: number | undefined;
    if (typeof header === "string") {
      const timeout = parseCallTimeout(this.wire.protocol, header);
      if (timeout.error) return this.fail(timeout.error);
      timeoutMs = timeout.timeoutMs;
    }
    // A body declared too large is refused at once, not waited for.
    if (declaredTooLarge(this.headers, this.options.limits.maxBodyBytes, this.framing)) return this.refuseBody();
    if (timeoutMs !== undefined) {
      this.deadline = Date.now() + timeoutMs;
      this.timer = setTimeout(() => this.fail(new ConnectError("the call timed out", Code.DeadlineExceeded)), timeoutMs);
    }
    // How long the body may take is bounded per connection and stream (one-port.ts, h2-guard.ts).
    // The listeners are shared functions that find this call on the source ("end" comes once).
    (source as Source)[CALL] = this;
    source.on("data", onCallData);
    source.on("end", onCallEnd);
  }

  private data(chunk: Buffer, source: BodySource): void {
    if (this.done || this.body.add(chunk)) return;
    source.off("data", onCallData);
    this.refuseBody();
  }

  private bodyEnd(): void {
    this.bodyEnded = true;
    if (this.done || this.abandoned()) return;
    let input: Message;
    try {
      input = decode(this.method.input, this.wire.codec, requestMessage(this.body.take(), this.framing));
    } catch (err) {
      return this.fail(this.failure(err));
    }
    void this.run(input);
  }

  private async run(input: Message): Promise<void> {
    try {
      await this.answer(await this.method.call(input, this.ctx));
    } catch (err) {
      this.fail(this.failure(err));
    }
  }

  private answer(out: Message | AsyncIterable<Message>): Promise<void> | void {
    if (this.method.kind !== "unary") return this.streamAnswers(out as AsyncIterable<Message>);
    const encoded = encodeAnswer(this.method.output, this.wire.codec, out as Message);
    if (encoded instanceof Promise) return encoded.then((bytes) => this.answerBytes(bytes));
    this.answerBytes(encoded);
  }

  private answerBytes(bytes: Uint8Array): void {
    if (this.done) return;
    this.finish();
    this.reply(bytes);
  }

  /** Ends the call with `error`, once. */
  fail(error: ConnectError): void {
    if (this.done) return;
    this.finish();
    this.ctx.abort(error);
    // Answered early: what the client still sends is read and dropped, so that it reads the answer.
    if (!this.bodyEnded) this.dropBody(this.body.size);
    this.body.clear();
    this.sendError(error);
  }

  private refuseBody(): void {
    this.fail(domainToConnect(bodyTooLarge(this.options.limits.maxBodyBytes)));
  }

  /** Marks the call answered; a stream calls it before writing its end. */
  protected finish(): void {
    this.done = true;
    clearTimeout(this.timer);
  }

  /** Any failure as the client may see it: a fault of ours is logged and answered as a bare `internal`. */
  protected failure(err: unknown): ConnectError {
    return toConnectError(err, this.options.log, this.method.method.name);
  }
}
