// The SDK's transports in Node: gRPC (the default), Connect or gRPC-Web,
// with what the SDK needs from them.
//
// - Big HTTP/2 windows. Node's are 64 KiB per stream and per connection, so a
//   4 MiB answer waited on a WINDOW_UPDATE for every 64 KiB: 0.8-7.9 s per
//   read against 90 ms with 16 MiB. The stream window is a SETTINGS value; the
//   connection's is raised with a WINDOW_UPDATE once the session exists.
// - JSON read with sdkJsonOptions, so "__proto__" keys survive (json-keys.ts),
//   and binary with sdkBinaryOptions, as deep as the service stores (proto-keys.ts).
// - https: a CA to trust (a private one, instead of the system's) and a client
//   certificate for services that ask for one (TLS_CA_FILE).
import type http2 from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { sdkJsonOptions } from "./json-keys.js";
import { sdkBinaryOptions } from "./proto-keys.js";

/** HTTP/2 flow-control window, per stream and per connection: a whole 4 MiB map and then some. */
export const HTTP2_WINDOW_BYTES = 16 * 1024 * 1024;

export interface SettingsTransportOptions {
  baseUrl: string;
  /** "grpc" (default), "connect" or "grpc-web". */
  protocol?: "grpc" | "connect" | "grpc-web";
  /** Connect and gRPC-Web only ("2" by default); gRPC is always HTTP/2. */
  httpVersion?: "1.1" | "2";
  /** Protobuf binary (default) or JSON messages. */
  useBinaryFormat?: boolean;
  interceptors?: Interceptor[];
  /** For an https baseUrl: the CA to trust instead of the system's, and a client certificate and key (PEM text). */
  tls?: TlsClientOptions;
}

export interface TlsClientOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

const widened = new WeakSet<http2.Http2Session>();

/** connect-node's session manager, each new session given the large connection window. */
class WideWindowSessions extends Http2SessionManager {
  constructor(baseUrl: string, tls: TlsClientOptions = {}) {
    super(baseUrl, undefined, { ...tls, settings: { initialWindowSize: HTTP2_WINDOW_BYTES } });
  }

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !widened.has(session)) {
      widened.add(session);
      session.setLocalWindowSize(HTTP2_WINDOW_BYTES);
    }
    return stream;
  }
}

export function createSettingsTransport(options: SettingsTransportOptions): Transport {
  const { baseUrl, protocol = "grpc", httpVersion = "2", useBinaryFormat = true, interceptors = [], tls } = options;
  const common = { baseUrl, useBinaryFormat, interceptors, jsonOptions: sdkJsonOptions, binaryOptions: sdkBinaryOptions };
  const h2 = () => ({ httpVersion: "2" as const, sessionManager: new WideWindowSessions(baseUrl, tls) });
  const h1 = { httpVersion: "1.1" as const, nodeOptions: tls };
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ ...common, ...h2() });
    case "connect":
      return createConnectTransport({ ...common, ...(httpVersion === "2" ? h2() : h1) });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, ...(httpVersion === "2" ? h2() : h1) });
  }
}
