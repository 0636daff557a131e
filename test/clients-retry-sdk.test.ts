// The TypeScript SDK's idempotent writes against real store faults. Redis
// frozen (SIGSTOP) makes the service answer OUTCOME_UNKNOWN for a write it
// sent; Redis killed makes it answer unavailable. An interceptor on the
// client's own transport records each attempt's request id and answer, and
// thaws or restarts Redis exactly when the retry goes out.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/codexmanager/settings/v1/errors_pb.js";
import { createSettingsSdk, SettingsError } from "../src/client/index.js";
import { startFaultyService, type FaultyService } from "./clients-faults.js";

let service: FaultyService;
beforeAll(async () => {
  service = await startFaultyService();
});
afterEach(async () => {
  await service.heal();
});
afterAll(async () => {
  await service?.close();
});

interface Attempt {
  method: string;
  requestId: string;
  /** How the service answered: "ok", or the code and reason. */
  answer: string;
}

const CONTROLS = { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "read-only" } as const;

describe.each(["grpc", "connect-json"] as const)("SDK writes over %s", (transport) => {
  /** An SDK whose write attempts are recorded; `beforeRetry` runs just before the second one is sent. */
  function recorded(beforeRetry: () => unknown = () => {}) {
    const attempts: Attempt[] = [];
    const record: Interceptor = (next) => async (req) => {
      if (req.stream || !("requestId" in req.message)) return next(req);
      const attempt: Attempt = { method: req.method.name, requestId: String(req.message.requestId), answer: "pending" };
      attempts.push(attempt);
      if (attempts.length === 2) await beforeRetry();
      try {
        const res = await next(req);
        attempt.answer = "ok";
        return res;
      } catch (err) {
        const e = ConnectError.from(err);
        attempt.answer = `${Code[e.code]} ${e.findDetails(ErrorDetailSchema)[0]?.reason ?? ""}`.trim();
        throw err;
      }
    };
    const baseUrl = service.server.url;
    const t = transport === "grpc"
      ? createGrpcTransport({ baseUrl, interceptors: [record] })
      : createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [record] });
    return { sdk: createSettingsSdk(t), attempts };
  }

  async function newSession() {
    const sessionId = `retry-${randomUUID()}`;
    await service.server.clients().sessions.createSession({ sessionId });
    return sessionId;
  }

  const history = async (sessionId: string) => (await service.server.clients().settings.listHistory({ sessionId, limit: 50 })).entries;

  it("retries an unknown outcome once with the same request id, and the write is applied once", async () => {
    const { redis } = service;
    const { sdk, attempts } = recorded(() => redis.resume());
    const sessionId = await newSession();
    redis.pause();
    const result = await sdk.session(sessionId).settings.namespace("team.review").merge({ owner: "ana" });
    expect(attempts.map((a) => a.answer)).toEqual(["DeadlineExceeded OUTCOME_UNKNOWN", "ok"]);
    expect(attempts[1]!.requestId).toBe(attempts[0]!.requestId);
    expect(result.requestId).toBe(attempts[0]!.requestId);
    // The first try ran when Redis thawed; the retry got its result back and applied nothing.
    expect(result).toMatchObject({ replayed: true, changed: true, revision: 1n });
    expect((await history(sessionId)).map((e) => e.revision)).toEqual([1n]);
    expect((await service.server.clients().settings.getSettings({ sessionId })).settings).toEqual({ team: { review: { owner: "ana" } } });
  });

  it("retries unavailable once with the same request id, after which the write is applied once", async () => {
    const { sdk, attempts } = recorded(() => service.revive());
    const sessionId = await newSession();
    await service.kill();
    const result = await sdk.session(sessionId).controls.apply(CONTROLS, { actor: "retrier" });
    expect(attempts.map((a) => a.answer)).toEqual(["Unavailable STORE_UNAVAILABLE", "ok"]);
    expect(attempts[1]!.requestId).toBe(attempts[0]!.requestId);
    // Unavailable means the first try was never applied: the retry applied it.
    expect(result).toMatchObject({ replayed: false, changed: true, revision: 1n, requestId: attempts[0]!.requestId });
    expect((await history(sessionId)).map((e) => [e.revision, e.actor])).toEqual([[1n, "retrier"]]);
  });

  it("retries only once; the caller can then send the same write again with the error's request id", async () => {
    const { redis } = service;
    const { sdk, attempts } = recorded();
    const sessionId = await newSession();
    const chat = sdk.session(sessionId);
    redis.pause();
    const err = await chat.settings.set("k", "v").catch((e: unknown) => e);
    redis.resume();
    expect(attempts.map((a) => a.answer)).toEqual(["DeadlineExceeded OUTCOME_UNKNOWN", "DeadlineExceeded OUTCOME_UNKNOWN"]);
    expect(err).toBeInstanceOf(SettingsError);
    expect(err).toMatchObject({ reason: "OUTCOME_UNKNOWN", code: Code.DeadlineExceeded, requestId: attempts[0]!.requestId });
    const again = await chat.settings.set("k", "v", { requestId: (err as SettingsError).requestId });
    expect(again.replayed).toBe(true);
    expect((await history(sessionId)).map((e) => e.revision)).toEqual([1n]);
  });

  it("sends once only with retry: false, and uses the caller's request id", async () => {
    const { redis } = service;
    const { sdk, attempts } = recorded();
    const sessionId = await newSession();
    const requestId = `caller-${randomUUID()}`;
    redis.pause();
    const err = await sdk.session(sessionId).settings.unset("k", { requestId, retry: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "OUTCOME_UNKNOWN", requestId });
    expect(attempts).toEqual([{ method: "UnsetSetting", requestId, answer: "DeadlineExceeded OUTCOME_UNKNOWN" }]);
  });

  it("never retries a refusal: 400, 404, 409, 410", async () => {
    const { sdk, attempts } = recorded();
    const sessionId = await newSession();
    const chat = sdk.session(sessionId);
    await chat.settings.set("k", 1);
    const refusals = [
      chat.settings.set(" ", 1),
      sdk.session(`missing-${randomUUID()}`).settings.set("k", 1),
      chat.settings.merge({ k: 2 }, { ifRevision: 0n }),
    ];
    const reasons = await Promise.all(refusals.map((p) => p.then(() => "ok", (e: SettingsError) => e.reason)));
    expect(reasons).toEqual(["INVALID_REQUEST", "SESSION_NOT_FOUND", "REVISION_MISMATCH"]);
    await service.server.clients().sessions.deleteSession({ sessionId });
    expect(await chat.controls.apply(CONTROLS).catch((e: SettingsError) => e.reason)).toBe("SESSION_DELETED");
    // One attempt each, and every write had its own id.
    expect(attempts).toHaveLength(5);
    expect(new Set(attempts.map((a) => a.requestId)).size).toBe(5);
  });
});
