// What the fast path's modules share: a method as it is served, the wire a
// request came in, the call a context belongs to, and the options of it all.
import type { IncomingHttpHeaders } from "node:http";
import type net from "node:net";
import type { DescMessage, DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";
import type { Limits } from "../../domain/limits.js";
import type { Logger } from "../../observe/log.js";

export type ProtocolName = "grpc" | "grpc-web" | "connect";
export type Kind = "unary" | "server_streaming";
export type Codec = "proto" | "json";
export type Message = MessageShape<DescMessage>;

/** How a request is framed and encoded (./wire.ts says which the fast path takes). */
export interface Wire {
  protocol: ProtocolName;
  codec: Codec;
  /** The response content type. */
  contentType: string;
}

/** A method as the fast path serves it (./methods.ts). */
export interface Method {
  kind: Kind;
  method: DescMethod;
  service: DescService;
  input: DescMessage;
  output: DescMessage;
  /** The implementation behind the interceptors: a message, or an iterable of them. */
  call(request: Message, ctx: HandlerContext): Promise<Message | AsyncIterable<Message>>;
}

/** A fast-path call's context (./call-context.ts): connect's, and one request header as Node received it. */
export interface FastContext extends HandlerContext {
  rawHeader(name: string): string | undefined;
  /** The context values if anything has asked for them yet, else undefined (without creating them). */
  readonly existingValues: ContextValues | undefined;
}

/** What a call's context (./call-context.ts) needs from the call it belongs to. */
export interface Exchange {
  readonly method: Method;
  readonly protocolName: ProtocolName;
  /** Node's incoming header object. */
  readonly headers: IncomingHttpHeaders;
  readonly url: string;
  /** When the call times out (ms since the epoch), from grpc-timeout or connect-timeout-ms. */
  readonly deadline?: number;
  /** Aborted when the server shuts down. */
  readonly shutdown: AbortSignal;
  /** Whether the call has already answered. */
  readonly done: boolean;
  /** Registers `gone` to run once if the client goes away; answers false if it already has. */
  watchClient(gone: () => void): boolean;
  /** Set by the server for every call (the authenticated caller, ...). */
  readonly values?: () => ContextValues;
}

export interface RpcOptions {
  /** Request path → method. */
  methods: Map<string, Method>;
  /** Values every call's context starts with, from its connection (the peer, when something reads it). */
  contextValues?: (socket: net.Socket | undefined) => ContextValues;
  limits: Pick<Limits, "maxBodyBytes">;
  log: Logger;
  shutdown: AbortSignal;
}
