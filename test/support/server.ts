// Starts the real server in-process on a free port, over the chosen store,
// and builds generated clients for each transport.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import type http2 from "node:http2";
import { compressionGzip, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SessionService } from "../../gen/codexmanager/settings/v1/session_pb.js";
import { SettingsService } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { SchemaService } from "../../gen/codexmanager/settings/v1/schemas_pb.js";
import { loadConfig } from "../../src/config.js";
import { Authenticator } from "../../src/auth.js";
import { createLogger, type Logger } from "../../src/observe/log.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import type { sdkJsonOptions } from "../../src/client/json-keys.js";
import type { sdkBinaryOptions } from "../../src/client/proto-keys.js";
import { restRoutes } from "../../src/transport/rest/routes.js";
import { startServer, type RunningServer } from "../../src/app.js";

export type Backend = "memory" | "sqlite" | "redis" | "redis-cluster";
/** The in-process stores, which run the write engine. */
export const LOCAL_BACKENDS: Backend[] = ["memory", "sqlite"];
/** One of each kind of store that a single test file can start by itself. */
export const BACKENDS: Backend[] = ["memory", "sqlite", "redis"];
export type TransportName = "grpc" | "connect-json" | "connect-binary-h2" | "grpc-web" | FallbackTransportName;
export const TRANSPORTS: TransportName[] = ["grpc", "connect-json", "connect-binary-h2", "grpc-web"];
/** Wires the fast path leaves to connect-node: gRPC with JSON, and compressed gRPC and Connect. */
export type FallbackTransportName = "grpc-json" | "grpc-gzip" | "connect-gzip-h2";
export const FALLBACK_TRANSPORTS: FallbackTransportName[] = ["grpc-json", "grpc-gzip", "connect-gzip-h2"];

export interface TestServer {
  url: string;
  port: number;
  store: Store;
  env: Record<string, string>;
  close(): Promise<void>;
  clients(transport?: TransportName): Clients;
}

export interface Clients {
  settings: Client<typeof SettingsService>;
  sessions: Client<typeof SessionService>;
  schemas: Client<typeof SchemaService>;
}

/** A fresh directory for a SQLite store, removed when the test process exits. */
export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cm-data-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A generated client's transport; HTTP/2 ones may be given their connection's options, any may have interceptors. */
export interface TransportOptions {
  nodeOptions?: http2.ClientSessionOptions;
  interceptors?: Interceptor[];
  jsonOptions?: typeof sdkJsonOptions;
  binaryOptions?: typeof sdkBinaryOptions;
}

export function makeTransport(url: string, name: TransportName, options: TransportOptions = {}): Transport {
  const { jsonOptions, binaryOptions } = options;
  const base = { baseUrl: url, nodeOptions: options.nodeOptions, interceptors: options.interceptors, jsonOptions, binaryOptions };
  // HTTP/1.1 transports take Node's request options, not an HTTP/2 session's.
  const h1 = { baseUrl: url, interceptors: options.interceptors, jsonOptions, binaryOptions };
  const gzip = { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 0 };
  switch (name) {
    case "grpc":
      return createGrpcTransport(base);
    case "grpc-json":
      return createGrpcTransport({ ...base, useBinaryFormat: false });
    case "grpc-gzip":
      return createGrpcTransport({ ...base, ...gzip });
    case "connect-gzip-h2":
      return createConnectTransport({ ...base, httpVersion: "2", ...gzip });
    case "connect-json":
      return createConnectTransport({ ...h1, httpVersion: "1.1", useBinaryFormat: false });
    case "connect-binary-h2":
      return createConnectTransport({ ...base, httpVersion: "2", useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ ...h1, httpVersion: "1.1" });
  }
}

/** Generated clients for one server and transport (HTTP/2 ones may be given their connection). */
export function makeClients(url: string, name: TransportName, nodeOptions?: http2.ClientSessionOptions): Clients {
  const transport = makeTransport(url, name, { nodeOptions });
  return { settings: createClient(SettingsService, transport), sessions: createClient(SessionService, transport), schemas: createClient(SchemaService, transport) };
}

export interface StartOptions {
  backend: Backend;
  redisUrl?: string;
  /** host:port,... for the redis-cluster backend. */
  clusterNodes?: string;
  /** For sqlite: the DATA_DIR to use (a fresh temporary one when absent). */
  dataDir?: string;
  /** Extra environment, as the server would read it. */
  env?: Record<string, string>;
  log?: Logger;
}

export async function startTestServer(options: StartOptions): Promise<TestServer> {
  const env: Record<string, string> = {
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    ...(options.backend === "memory" ? { DATA_DIR: ":memory:" } : {}),
    ...(options.backend === "sqlite" ? { DATA_DIR: options.dataDir ?? tempDataDir() } : {}),
    ...(options.backend === "redis" ? { REDIS_URL: options.redisUrl!, REDIS_PREFIX: `t${randomUUID().slice(0, 8)}:` } : {}),
    ...(options.backend === "redis-cluster" ? { REDIS_CLUSTER_NODES: options.clusterNodes!, REDIS_PREFIX: `t${randomUUID().slice(0, 8)}:` } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const store = await openStore(config);
  let server: RunningServer;
  try {
    const auth = config.authTokensFile ? Authenticator.fromFile(config.authTokensFile, { clientCertificates: config.tls?.caFile !== undefined }) : undefined;
    server = await startServer({ config, store, log: options.log ?? createLogger(config.logLevel), auth, routes: restRoutes });
  } catch (err) {
    await store.close();
    throw err;
  }
  const cache = new Map<TransportName, Clients>();
  return {
    url: server.url,
    port: server.port,
    store,
    env,
    async close() {
      await server.close();
      await store.close();
    },
    clients(name = "connect-json") {
      let c = cache.get(name);
      if (!c) {
        c = makeClients(server.url, name);
        cache.set(name, c);
      }
      return c;
    },
  };
}
