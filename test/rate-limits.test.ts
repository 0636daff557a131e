// Per-caller rate limits: one caller over its limit is refused
// (RESOURCE_EXHAUSTED RATE_LIMITED with the wait; REST 429 and Retry-After)
// and nothing of the refused call is applied, while another caller writes on
// unaffected; over gRPC and REST, for writes and for opening watches, by
// token actor and by anonymous address. The SDK, the CLI and the Python
// client wait the Retry-After once and send again. Buckets stay bounded
// however many addresses call.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import http from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { createSettingsSdk } from "../src/client/index.js";
import { createSettingsTransport } from "../src/client/node.js";
import { RateLimiter } from "../src/service/rate-limits.js";
import { expectFailure } from "./support/errors.js";
import { restClient } from "./support/rest.js";
import { makeTransport, startTestServer, type TestServer } from "./support/server.js";

const CM = resolve(import.meta.dirname, "..", "bin", "cm.mjs");
const token = (name: string) => `${name}-${randomUUID()}`;
const T = { noisy: token("noisy"), quiet: token("quiet"), vip: token("vip"), tight: token("tight"), sdk: token("sdk"), python: token("python"), cli: token("cli") };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const entry = (key: string, value: number) => ({ case: "entry" as const, value: { key, value: { kind: { case: "numberValue" as const, value } } } });

function tokensFile(entries: Record<string, object>): string {
  const file = join(mkdtempSync(join(tmpdir(), "cm-limits-")), "tokens.json");
  writeFileSync(file, JSON.stringify(entries));
  return file;
}

/** The refusals /metrics counts for one actor. */
async function refusals(server: TestServer, kind: string, actor: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = new RegExp(`^settings_rate_limited_total\\{kind="${kind}",actor="${actor}"\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

describe("writes and watches, per token actor, over gRPC and REST", () => {
  let server: TestServer;
  let sessionId: string;
  beforeAll(async () => {
    // One write per 100 s after a burst of 3: nothing refills during a test, however slow the machine.
    server = await startTestServer({
      backend: "sqlite",
      env: {
        RATE_LIMIT_WRITES: "0.01", RATE_LIMIT_BURST: "3", RATE_LIMIT_WATCHES: "0.01", RATE_LIMIT_WATCH_BURST: "2",
        AUTH_TOKENS_FILE: tokensFile({
          [T.noisy]: { actor: "noisy", role: "write" },
          [T.quiet]: { actor: "quiet", role: "write" },
          [T.vip]: { actor: "vip", role: "admin", rateLimits: { writes: null, watches: null } },
          [T.tight]: { actor: "tight", role: "write", rateLimits: { writes: 0.01, burst: 1 } },
        }),
      },
    });
    const created = await restClient(server.url)("POST", "/api/sessions", {}, { headers: bearer(T.vip) });
    sessionId = created.body.session.sessionId;
  });
  afterAll(async () => {
    await server?.close();
  });

  const grpcAs = (t: string) => createClient(SettingsService, makeTransport(server.url, "grpc", { interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${t}`), next(req))] }));

  it("gRPC: refuses the fourth write of one actor, applies none of it, and leaves another actor unaffected", async () => {
    const noisy = grpcAs(T.noisy);
    const quiet = grpcAs(T.quiet);
    for (let i = 0; i < 3; i++) await noisy.setSettings({ sessionId, update: entry(`noisy${i}`, i) });
    const before = (await noisy.getSettings({ sessionId })).revision;
    const detail = await expectFailure(noisy.setSettings({ sessionId, update: entry("noisy3", 3) }), Code.ResourceExhausted, "RATE_LIMITED");
    expect(durationMs(detail!.retryAfter!)).toBeGreaterThan(50_000);
    expect(detail!.limit).toBe(3n);
    // Nothing applied, and reads are not limited.
    for (let i = 0; i < 10; i++) expect((await noisy.getSettings({ sessionId })).revision).toBe(before);
    expect((await noisy.getSettings({ sessionId })).settings).not.toHaveProperty("noisy3");
    // Another actor has a bucket of its own.
    for (let i = 0; i < 3; i++) await quiet.setSettings({ sessionId, update: entry(`quiet${i}`, i) });
    // An actor's own limits in the tokens file: none for vip, a burst of one for tight.
    const vip = grpcAs(T.vip);
    for (let i = 0; i < 10; i++) await vip.setSettings({ sessionId, update: entry("vip", i) });
    const tight = grpcAs(T.tight);
    await tight.setSettings({ sessionId, update: entry("tight", 1) });
    await expectFailure(tight.setSettings({ sessionId, update: entry("tight", 2) }), Code.ResourceExhausted, "RATE_LIMITED");
    expect(await refusals(server, "writes", "noisy")).toBe(1);
    expect(await refusals(server, "writes", "tight")).toBe(1);
    expect(await refusals(server, "writes", "quiet")).toBe(0);
  });

  it("REST: 429 with Retry-After and nothing applied; another actor, reads and health are unaffected", async () => {
    const rest = restClient(server.url);
    const post = (t: string, key: string) => rest("POST", `/api/sessions/${sessionId}/settings`, { key, value: 1 }, { headers: bearer(t) });
    // noisy spent its writes over gRPC: the bucket is the actor's, whatever the protocol.
    const refused = await post(T.noisy, "rest-noisy");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(50);
    expect(refused.body).toMatchObject({ status: "error", code: "rate_limited", limit: 3 });
    const read = await rest("GET", `/api/sessions/${sessionId}/settings`, undefined, { headers: bearer(T.noisy) });
    expect(read.status).toBe(200);
    expect(read.body.settings).not.toHaveProperty("rest-noisy");
    expect((await rest("GET", "/readyz")).status).toBe(200);
    // A fresh actor over REST: three, then refused; quiet was not touched by any of it.
    const created = await rest("POST", "/api/sessions", {}, { headers: bearer(T.vip) });
    expect(created.status).toBe(200);
    expect((await post(T.quiet, "rest-quiet")).status).toBe(429); // quiet spent its three over gRPC
    expect((await post(T.vip, "rest-vip")).status).toBe(200);
  });

  it("limits opening watches: SSE 429 and WatchSettings RESOURCE_EXHAUSTED, per actor", async () => {
    const opened: AbortController[] = [];
    const sse = async (t: string) => {
      const abort = new AbortController();
      opened.push(abort);
      const res = await fetch(`${server.url}/api/sessions/${sessionId}/settings/events`, { headers: bearer(t), signal: abort.signal });
      return res;
    };
    try {
      expect((await sse(T.noisy)).status).toBe(200);
      expect((await sse(T.noisy)).status).toBe(200);
      const third = await sse(T.noisy);
      expect(third.status).toBe(429);
      expect(third.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(((await third.json()) as { code: string }).code).toBe("rate_limited");
      const watch = grpcAs(T.noisy).watchSettings({ sessionId });
      await expectFailure((async () => {
        for await (const _ of watch) return;
      })(), Code.ResourceExhausted, "RATE_LIMITED");
      // Another actor opens its own.
      expect((await sse(T.quiet)).status).toBe(200);
      expect(await refusals(server, "watches", "noisy")).toBe(2);
    } finally {
      for (const a of opened) a.abort();
    }
  });
});

describe("anonymous callers, by address", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ backend: "memory", env: { RATE_LIMIT_WRITES: "0.01", RATE_LIMIT_BURST: "2" } });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A REST POST from a given loopback address (every 127.x.y.z is this machine, and reaches 127.0.0.1). */
  const postFrom = (localAddress: string, path: string, body: unknown) =>
    new Promise<{ status: number; retryAfter?: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: server.port, path, method: "POST", localAddress, headers: { "content-type": "application/json" } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, retryAfter: res.headers["retry-after"] });
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });

  it("limits each remote address on its own", async () => {
    const a = await Promise.all([0, 1].map(() => postFrom("127.0.0.2", "/api/sessions", {})));
    expect(a.map((r) => r.status)).toEqual([200, 200]);
    const over = await postFrom("127.0.0.2", "/api/sessions", {});
    expect(over.status).toBe(429);
    expect(Number(over.retryAfter)).toBeGreaterThan(50);
    expect((await postFrom("127.0.0.3", "/api/sessions", {})).status).toBe(200);
    expect(await refusals(server, "writes", "anonymous")).toBe(1);
  });
});

describe("clients wait Retry-After once, then send again", () => {
  let server: TestServer;
  beforeAll(async () => {
    // One write per 4 s, none saved up: the second write right after a first waits about 4 s.
    server = await startTestServer({
      backend: "sqlite",
      env: {
        RATE_LIMIT_WRITES: "0.25", RATE_LIMIT_BURST: "1",
        AUTH_TOKENS_FILE: tokensFile({
          [T.vip]: { actor: "vip", role: "admin", rateLimits: { writes: null } },
          [T.sdk]: { actor: "sdk", role: "write" },
          [T.python]: { actor: "python", role: "write" },
          [T.cli]: { actor: "cli", role: "write" },
        }),
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const newSession = async () => (await restClient(server.url)("POST", "/api/sessions", {}, { headers: bearer(T.vip) })).body.session.sessionId as string;

  it("the SDK", async () => {
    const sessionId = await newSession();
    const sdk = createSettingsSdk(createSettingsTransport({ baseUrl: server.url, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${T.sdk}`), next(req))] }));
    const chat = sdk.session(sessionId);
    await chat.settings.set("a", 1);
    const second = await chat.settings.set("b", 2);
    expect(second.changed).toBe(true);
    expect(await refusals(server, "writes", "sdk")).toBe(1);
    // retry: false leaves the refusal to the caller.
    await expect(chat.settings.set("c", 3, { retry: false })).rejects.toMatchObject({ reason: "RATE_LIMITED" });
  }, 30_000);

  it("the Python client", async () => {
    const sessionId = await newSession();
    const script = `
import sys
from codex_manager import CodexManager, RateLimitedError
cm = CodexManager(base_url=sys.argv[1], token=sys.argv[2])
s = cm.session(sys.argv[3]).settings
s.set(key="a", value=1)
print(s.set(key="b", value=2)["status"])
try:
    CodexManager(base_url=sys.argv[1], token=sys.argv[2], retry_writes=False).session(sys.argv[3]).settings.set(key="c", value=3)
except RateLimitedError as err:
    print("refused", err.retry_after > 0)
`;
    const out = await new Promise<string>((done, fail) =>
      execFile("python3", ["-c", script, server.url, T.python, sessionId], { env: { ...process.env, PYTHONPATH: resolve(import.meta.dirname, "..", "clients", "python") } },
        (err, stdout, stderr) => (err ? fail(new Error(stderr)) : done(stdout))),
    );
    expect(out.trim().split("\n")).toEqual(["ok", "refused True"]);
    expect(await refusals(server, "writes", "python")).toBe(2);
  }, 30_000);

  it("cm", async () => {
    const sessionId = await newSession();
    const cm = (...args: string[]) =>
      new Promise<{ code: number; stderr: string }>((done) =>
        execFile(process.execPath, [CM, "--base-url", server.url, "--bearer", T.cli, ...args], { cwd: tmpdir() }, (err, _stdout, stderr) =>
          done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr })),
      );
    const set = (key: string, ...more: string[]) => cm("sessions", "settings", "set", "--session-id", sessionId, "--key", key, "--value", "1", ...more);
    expect((await set("a")).code).toBe(0);
    expect((await set("b")).code).toBe(0);
    expect(await refusals(server, "writes", "cli")).toBe(1);
    const refused = await set("c", "--no-retry");
    expect(refused.code).toBe(13);
    expect(refused.stderr).toContain("RATE_LIMITED");
  }, 60_000);
});

describe("the buckets kept", () => {
  it("stay within RATE_LIMIT_CALLERS however many addresses call, and an IPv6 /64 is one caller", () => {
    const limiter = new RateLimiter({ writes: { perSecond: 1, burst: 1 }, maxCallers: 1000 });
    for (let i = 0; i < 100_000; i++) limiter.admit("SetSettings", { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
    expect(limiter.size("writes")).toBe(1000);
    // Reads are not limited, and keep no bucket.
    for (let i = 0; i < 1000; i++) limiter.admit("GetSettings", { address: `192.168.0.${i & 255}` });
    expect(limiter.size("watches")).toBe(0);
    const v6 = new RateLimiter({ writes: { perSecond: 0.01, burst: 1 }, maxCallers: 1000 });
    v6.admit("SetSettings", { address: "2001:db8:0:1::1" });
    expect(() => v6.admit("SetSettings", { address: "2001:db8:0:1:ffff::2" })).toThrow(/too many writes/);
    expect(() => v6.admit("SetSettings", { address: "2001:db8:0:2::1" })).not.toThrow();
    // An IPv4 address seen through an IPv6 socket is the same caller as itself.
    v6.admit("SetSettings", { address: "192.0.2.1" });
    expect(() => v6.admit("SetSettings", { address: "::ffff:192.0.2.1" })).toThrow(/too many writes/);
  });

  it("count refusals under a bounded number of actor labels", () => {
    const labels = new Set<string>();
    const limiter = new RateLimiter({ writes: { perSecond: 0.01, burst: 1 }, maxCallers: 1000 }, (_kind, actor) => labels.add(actor));
    for (let i = 0; i < 500; i++) {
      const caller = { principal: { actor: `actor-${i}`, role: "write" as const }, address: "127.0.0.1" };
      limiter.admit("SetSettings", caller);
      expect(() => limiter.admit("SetSettings", caller)).toThrow(/too many writes/);
    }
    expect(labels.size).toBe(101);
    expect(labels).toContain("other");
  });
});
