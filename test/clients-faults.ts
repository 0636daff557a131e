// Shared by the clients-* retry tests: a server on a real Redis that the
// tests freeze (SIGSTOP: writes answer OUTCOME_UNKNOWN) or kill (writes
// answer unavailable), and a loopback HTTP/1.1 proxy that records what each
// client sends and can act just before it forwards a request.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, vi } from "vitest";
import { startRedis, type TestRedis } from "./support/redis.js";
import { startTestServer, type TestServer } from "./support/server.js";

/** Small, so that an unknown outcome is answered quickly. */
export const STORE_TIMEOUT_MS = 300;

export interface FaultyService {
  redis: TestRedis;
  server: TestServer;
  /** SIGKILLs Redis: the server then answers unavailable at once. */
  kill(): Promise<void>;
  /** Starts the killed Redis again (its data persists) and waits until the server is ready on it. */
  revive(): Promise<void>;
  /** After each test: Redis running and thawed, whatever the test did. */
  heal(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultyService(): Promise<FaultyService> {
  // appendfsync always: a killed and restarted Redis still holds every session.
  const redis = await startRedis({ persist: true });
  const server = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) } });
  let killed = false;
  const service: FaultyService = {
    redis,
    server,
    async kill() {
      killed = true;
      await redis.stop();
    },
    async revive() {
      killed = false;
      await redis.start();
      await vi.waitFor(async () => {
        if ((await fetch(`${server.url}/readyz`)).status !== 200) throw new Error("not ready yet");
      }, { timeout: 20_000, interval: 20 });
    },
    async heal() {
      redis.resume();
      if (killed) await service.revive();
    },
    async close() {
      redis.resume();
      await server.close();
      await redis.stop();
    },
  };
  return service;
}

export interface Forwarded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The status the server answered, once it has. */
  status?: number;
}

/**
 * A reverse proxy to `target` that records every request and, before
 * forwarding the nth (0-based), awaits `before(n)`: a test thaws or restarts
 * Redis there, exactly when a client's retry arrives.
 */
export async function recordingProxy(target: string, before: (n: number, request: Forwarded) => unknown = () => {}) {
  const seen: Forwarded[] = [];
  const proxy = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: Forwarded = { method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
    seen.push(request);
    await before(seen.length - 1, request);
    const upstream = http.request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      request.status = answer.statusCode;
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    upstream.end(request.body);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    seen,
    close() {
      const closed = new Promise<void>((r) => proxy.close(() => r()));
      proxy.closeAllConnections();
      return closed;
    },
  };
}

export interface ProxiedFaults {
  service: FaultyService;
  proxy: Awaited<ReturnType<typeof recordingProxy>>;
  /** What the proxy does before forwarding the nth request of the current test; reset after each. */
  before: (n: number) => unknown;
}

/**
 * For a test file that drives a client through a recording proxy to a faulty
 * service: starts both, and after each test forgets what the proxy saw and
 * brings Redis back, whatever the test did to it.
 */
export function proxiedFaults(): ProxiedFaults {
  const ctx = { before: () => {} } as unknown as ProxiedFaults;
  beforeAll(async () => {
    ctx.service = await startFaultyService();
    ctx.proxy = await recordingProxy(ctx.service.server.url, (n) => ctx.before(n));
  });
  afterEach(async () => {
    ctx.before = () => {};
    ctx.proxy.seen.length = 0;
    await ctx.service.heal();
  });
  afterAll(async () => {
    await ctx.proxy?.close();
    await ctx.service?.close();
  });
  return ctx;
}
