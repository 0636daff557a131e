// The environment, read and validated once. A bad value stops start-up with
// a message naming the variable.
import { readFileSync } from "node:fs";
import { DEFAULT_LIMITS, type Limits } from "./domain/limits.js";
import {
  APPROVAL_POLICIES,
  FILESYSTEM_SANDBOXES,
  NETWORK_ACCESS,
  type ControlFields,
} from "./domain/types.js";

export type { Limits };
export { DEFAULT_LIMITS };

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** Bounds on what one client connection can hold: time, streams, resets, connections. */
export interface HttpLimits {
  /** A request's headers and body must arrive within this (a new connection's first request too). */
  requestTimeoutMs: number;
  /** A connection with no request in flight is closed after this. */
  idleTimeoutMs: number;
  /** An answer the client does not take (a full socket, no HTTP/2 WINDOW_UPDATE) is dropped after this. */
  writeStallMs: number;
  maxConcurrentStreams: number;
  /** Streams a client may reset per second on one connection; past it, GOAWAY and close. */
  maxResetsPerSecond: number;
  /** The same across all connections; past it, the connections resetting are closed. */
  maxResetsPerSecondTotal: number;
  /** Open connections; at the cap, the oldest idle one makes room (keep it below the file descriptor limit). */
  maxConnections: number;
}

/** TLS on the one port; client certificates are asked for when a CA is given. */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** Client certificates must chain to this CA. */
  caFile?: string;
  /** With a CA: whether a client must present a certificate ("require") or may ("optional"). */
  clientAuth: "require" | "optional";
}

/** A token bucket: `perSecond` refill, up to `burst` at once. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** Per-caller limits; an absent kind is not limited (the tokens file may still limit an actor). */
export interface RateLimitSettings {
  writes?: RateLimit;
  watches?: RateLimit;
  /** Callers whose buckets are kept; past it, the least recently seen is forgotten. */
  maxCallers: number;
}

export interface Config {
  port: number;
  host: string;
  redisUrl?: string;
  redisClusterNodes?: { host: string; port: number }[];
  /** Redis Sentinel: the sentinels' addresses and the name of the monitored primary. */
  redisSentinels?: { host: string; port: number }[];
  redisSentinelName?: string;
  redisPrefix: string;
  /** The embedded store's directory; ":memory:" keeps everything in memory (tests). */
  dataDir: string;
  /** SQLite's synchronous mode: FULL (default) syncs the WAL on every commit. */
  sqliteSynchronous: "FULL" | "NORMAL";
  /** Bound on how long a store call may take before it fails as unavailable. */
  storeTimeoutMs: number;
  defaultsLocked: boolean;
  seedDefaults: ControlFields;
  historyLimit: number;
  /** Request ids each scope remembers for idempotent retries. */
  requestIdLimit: number;
  /** Entries the store-wide change feed keeps; older cursors answer HISTORY_TRUNCATED. */
  feedLimit: number;
  /** Bytes of whole maps kept, with their encodings, to answer repeated reads at one revision. */
  settingsCacheBytes: number;
  /** How often an idle watch stream sends a keep-alive message. */
  watchHeartbeatMs: number;
  /** A watcher that falls this far behind (unsent changes, or their bytes) is ended with WATCH_BACKLOG. */
  watchBacklog: { events: number; bytes: number };
  limits: Limits;
  logLevel: LogLevel;
  /** Origins (normalized, as browsers send them) whose pages may call and write; "*" for any. None by default. */
  corsOrigins: string[];
  /** Host names a loopback-bound server answers to besides localhost (transport/host-check.ts); "*" for any. */
  allowedHosts: string[];
  /** JSON file of bearer tokens; unset means authentication is off. */
  authTokensFile?: string;
  http: HttpLimits;
  /** Unset: cleartext. */
  tls?: TlsSettings;
  rateLimits: RateLimitSettings;
  /** OpenTelemetry traces: "otlp" sends them (the SDK reads the other OTEL_* variables itself); undefined is off. */
  tracesExporter?: "otlp";
}

/** Whether Redis (single, Cluster or Sentinel) is configured, rather than the embedded store. */
export function usesRedis(config: Pick<Config, "redisUrl" | "redisClusterNodes" | "redisSentinels">): boolean {
  return Boolean(config.redisUrl || config.redisClusterNodes || config.redisSentinels);
}

export class ConfigError extends Error {}

/** Room under the process's open-file limit (Linux), so new connections never fail for lack of a descriptor. */
function defaultMaxConnections(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.trim().split(/\s+/)[3]);
    if (Number.isFinite(soft)) return Math.max(64, Math.min(100_000, soft - 256));
  } catch {
    // Not Linux: a conservative default.
  }
  return 4000;
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function bool(env: Env, name: string): boolean {
  const v = oneOf(env, name, ["true", "false", "1", "0"], "false");
  return v === "true" || v === "1";
}

/** A host:port,... list (REDIS_CLUSTER_NODES, REDIS_SENTINELS). */
function hostPorts(env: Env, name: string): { host: string; port: number }[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  return raw.split(",").map((part) => {
    const m = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(part);
    if (!m) throw new ConfigError(`${name} must be host:port,..., got "${part}"`);
    return { host: m[1]!, port: Number(m[2]) };
  });
}

/** A comma-separated list of web origins (scheme://host[:port]) or "*"; none when unset. */
function origins(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  return raw.split(",").map((part) => {
    const s = part.trim();
    if (s === "*") return s;
    let url: URL | undefined;
    try {
      url = new URL(s);
    } catch {
      // reported below
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
      throw new ConfigError(`${name} must be "*" or origins such as https://app.example.com:8443 (scheme, host, optional port), comma-separated; got "${s}"`);
    }
    return url.origin;
  });
}

function tlsSettings(env: Env): TlsSettings | undefined {
  const certFile = read(env, "TLS_CERT_FILE");
  const keyFile = read(env, "TLS_KEY_FILE");
  const caFile = read(env, "TLS_CA_FILE");
  const clientAuth = read(env, "TLS_CLIENT_AUTH");
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined || clientAuth !== undefined) throw new ConfigError("TLS_CA_FILE and TLS_CLIENT_AUTH need TLS_CERT_FILE and TLS_KEY_FILE");
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) throw new ConfigError("TLS_CERT_FILE and TLS_KEY_FILE go together: set both, or neither for cleartext");
  if (clientAuth !== undefined && caFile === undefined) throw new ConfigError("TLS_CLIENT_AUTH needs TLS_CA_FILE, the CA that client certificates must chain to");
  return { certFile, keyFile, caFile, clientAuth: oneOf(env, "TLS_CLIENT_AUTH", ["require", "optional"], "require") };
}

/** The most calls per second a limit may allow (RATE_LIMIT_* and the tokens file's rateLimits). */
export const MAX_RATE_PER_SECOND = 1_000_000;
/** A limit's burst when none is given: one second's worth, at least one call. */
export const defaultBurst = (perSecond: number) => Math.max(1, Math.ceil(perSecond));

/** A rate per second (a decimal: 0.5 is one every two seconds) and its burst; undefined when the rate is unset. */
function rateLimit(env: Env, rateName: string, burstName: string): RateLimit | undefined {
  const raw = read(env, rateName);
  if (raw === undefined) {
    if (read(env, burstName) !== undefined) throw new ConfigError(`${burstName} needs ${rateName}`);
    return undefined;
  }
  const perSecond = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(perSecond > 0) || perSecond > MAX_RATE_PER_SECOND) {
    throw new ConfigError(`${rateName} must be a number of calls per second above 0 (such as 20 or 0.5), got "${raw}"`);
  }
  return { perSecond, burst: int(env, burstName, defaultBurst(perSecond), 1, 1_000_000) };
}

/** OTEL_TRACES_EXPORTER (otlp, or none: the default) unless OTEL_SDK_DISABLED=true. */
function tracesExporter(env: Env): "otlp" | undefined {
  if (oneOf(env, "OTEL_SDK_DISABLED", ["true", "false"], "false") === "true") return undefined;
  const exporter = oneOf(env, "OTEL_TRACES_EXPORTER", ["otlp", "none"], "none");
  return exporter === "otlp" ? "otlp" : undefined;
}

export function loadConfig(env: Env = process.env): Config {
  const redisUrl = read(env, "REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl}"`);
  }
  const redisClusterNodes = hostPorts(env, "REDIS_CLUSTER_NODES");
  const redisSentinels = hostPorts(env, "REDIS_SENTINELS");
  if ([redisUrl, redisClusterNodes, redisSentinels].filter((v) => v !== undefined).length > 1) {
    throw new ConfigError("set one of REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS");
  }
  const redisSentinelName = read(env, "REDIS_SENTINEL_NAME");
  if (redisSentinels && !redisSentinelName) throw new ConfigError("REDIS_SENTINELS needs REDIS_SENTINEL_NAME, the monitored primary's name");
  const prefix = read(env, "REDIS_PREFIX") ?? "cm:";
  if (/[{}\s]/.test(prefix)) {
    throw new ConfigError(`REDIS_PREFIX must not contain braces or spaces, got "${prefix}"`);
  }
  const L = DEFAULT_LIMITS;
  return {
    port: int(env, "PORT", 8080, 0, 65535),
    host: read(env, "HOST") ?? "127.0.0.1",
    redisUrl,
    redisClusterNodes,
    redisSentinels,
    redisSentinelName,
    redisPrefix: prefix,
    dataDir: read(env, "DATA_DIR") ?? "./data",
    sqliteSynchronous: oneOf(env, "SQLITE_SYNCHRONOUS", ["FULL", "NORMAL"], "FULL"),
    storeTimeoutMs: int(env, "STORE_TIMEOUT_MS", 2000, 10, 600_000),
    defaultsLocked: bool(env, "SESSION_DEFAULTS_LOCKED"),
    seedDefaults: {
      model: null,
      approvalPolicy: oneOf(env, "DEFAULT_APPROVAL_POLICY", APPROVAL_POLICIES, "untrusted"),
      networkAccess: oneOf(env, "DEFAULT_NETWORK_ACCESS", NETWORK_ACCESS, "restricted"),
      filesystemSandbox: oneOf(env, "DEFAULT_SANDBOX_MODE", FILESYSTEM_SANDBOXES, "read-only"),
    },
    historyLimit: int(env, "HISTORY_LIMIT", 1000, 1, 1_000_000),
    requestIdLimit: int(env, "REQUEST_ID_LIMIT", 1000, 1, 1_000_000),
    feedLimit: int(env, "FEED_LIMIT", 100_000, 1, 100_000_000),
    settingsCacheBytes: int(env, "SETTINGS_CACHE_BYTES", 64 * 1024 * 1024, 0, 8 * 1024 * 1024 * 1024),
    watchHeartbeatMs: int(env, "WATCH_HEARTBEAT_MS", 15_000, 10, 30_000),
    watchBacklog: {
      events: int(env, "WATCH_BACKLOG_EVENTS", 1000, 1, 1_000_000),
      bytes: int(env, "WATCH_BACKLOG_BYTES", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    },
    limits: {
      maxKeyLength: int(env, "MAX_KEY_LENGTH", L.maxKeyLength, 1, 65_536),
      maxActorLength: int(env, "MAX_ACTOR_LENGTH", L.maxActorLength, 1, 65_536),
      maxSourceLength: int(env, "MAX_SOURCE_LENGTH", L.maxSourceLength, 1, 65_536),
      maxDepth: int(env, "MAX_JSON_DEPTH", L.maxDepth, 1, 1000),
      maxBodyBytes: int(env, "MAX_BODY_BYTES", L.maxBodyBytes, 1024, 256 * 1024 * 1024),
      maxSettingsKeys: int(env, "MAX_SETTINGS_KEYS", L.maxSettingsKeys, 1, 10_000_000),
      maxSettingsBytes: int(env, "MAX_SETTINGS_BYTES", L.maxSettingsBytes, 1024, 512 * 1024 * 1024),
      maxSchemaBytes: int(env, "MAX_SCHEMA_BYTES", L.maxSchemaBytes, 1024, 16 * 1024 * 1024),
    },
    logLevel: oneOf(env, "LOG_LEVEL", ["debug", "info", "warn", "error", "silent"], "info"),
    corsOrigins: origins(env, "CORS_ORIGINS"),
    allowedHosts: read(env, "ALLOWED_HOSTS")?.split(",").map((h) => h.trim()).filter(Boolean) ?? [],
    authTokensFile: read(env, "AUTH_TOKENS_FILE"),
    http: {
      requestTimeoutMs: int(env, "HTTP_REQUEST_TIMEOUT_MS", 10_000, 100, 600_000),
      idleTimeoutMs: int(env, "HTTP_IDLE_TIMEOUT_MS", 30_000, 100, 3_600_000),
      writeStallMs: int(env, "HTTP_WRITE_STALL_MS", 10_000, 100, 600_000),
      maxConcurrentStreams: int(env, "HTTP2_MAX_CONCURRENT_STREAMS", 1000, 1, 100_000),
      maxResetsPerSecond: int(env, "HTTP2_MAX_RESETS_PER_SECOND", 100, 1, 1_000_000),
      maxResetsPerSecondTotal: int(env, "HTTP2_MAX_RESETS_PER_SECOND_TOTAL", 1000, 1, 10_000_000),
      maxConnections: int(env, "HTTP_MAX_CONNECTIONS", defaultMaxConnections(), 16, 1_000_000),
    },
    tls: tlsSettings(env),
    rateLimits: {
      writes: rateLimit(env, "RATE_LIMIT_WRITES", "RATE_LIMIT_BURST"),
      watches: rateLimit(env, "RATE_LIMIT_WATCHES", "RATE_LIMIT_WATCH_BURST"),
      maxCallers: int(env, "RATE_LIMIT_CALLERS", 10_000, 1, 10_000_000),
    },
    tracesExporter: tracesExporter(env),
  };
}
