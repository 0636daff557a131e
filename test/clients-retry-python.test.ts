// The Python client's idempotent writes against real store faults: a proxy
// in front of a server on Redis records every request's Idempotency-Key, and
// thaws (SIGCONT) or restarts the Redis that the test froze or killed exactly
// when the client's retry arrives.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { proxiedFaults, type Forwarded } from "./clients-faults.js";
import { restClient } from "./support/rest.js";

const run = promisify(execFile);
const faults = proxiedFaults();

interface Probe {
  answer?: Record<string, any>;
  error?: string;
  status?: number;
  requestId?: string;
}

/** One write by the Python client, through the proxy. */
async function probe(sessionId: string, write: string, retry = true, requestId?: string): Promise<Probe> {
  const args = ["clients/python/tests/retry_probe.py", faults.proxy.url, sessionId, write, retry ? "retry" : "no-retry", ...(requestId ? [requestId] : [])];
  const { stdout } = await run("python3", args, { env: { ...process.env, PYTHONPATH: "clients/python" } });
  return JSON.parse(stdout) as Probe;
}

async function newSession(): Promise<string> {
  const sessionId = `py-retry-${randomUUID()}`;
  expect((await restClient(faults.service.server.url)("POST", "/api/sessions", { sessionId })).status).toBe(200);
  return sessionId;
}

const revisions = async (sessionId: string) =>
  ((await restClient(faults.service.server.url)("GET", `/api/sessions/${sessionId}/settings/history`)).body.entries as { revision: number }[]).map((e) => e.revision);
const keys = (seen: Forwarded[]) => seen.map((r) => r.headers["idempotency-key"]);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

it("retries a 504 (unknown outcome) once with the same Idempotency-Key, and the write is applied once", async () => {
  const sessionId = await newSession();
  faults.before = (n) => n === 1 && faults.service.redis.resume();
  faults.service.redis.pause();
  const result = await probe(sessionId, "set");
  expect(faults.proxy.seen.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 504", "POST 200"]);
  expect(keys(faults.proxy.seen)[0]).toMatch(uuid);
  expect(keys(faults.proxy.seen)[1]).toBe(keys(faults.proxy.seen)[0]);
  expect(result.answer).toMatchObject({ status: "ok", settings: { k: "v" }, revision: 1 });
  expect(await revisions(sessionId)).toEqual([1]);
});

it("retries a 503 (not applied) once with the same Idempotency-Key, and the write is applied once", async () => {
  const sessionId = await newSession();
  faults.before = (n) => n === 1 && faults.service.revive();
  await faults.service.kill();
  const result = await probe(sessionId, "apply");
  expect(faults.proxy.seen.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 503", "POST 200"]);
  expect(keys(faults.proxy.seen)[1]).toBe(keys(faults.proxy.seen)[0]);
  expect(result.answer).toMatchObject({ status: "ok", applied: { approvalPolicy: "never" } });
  expect(await revisions(sessionId)).toEqual([1]);
});

it("with retry_writes=False raises OutcomeUnknownError carrying the key; sending it again applies the write once", async () => {
  const sessionId = await newSession();
  faults.service.redis.pause();
  const failed = await probe(sessionId, "merge", false);
  faults.service.redis.resume();
  expect(failed).toEqual({ error: "OutcomeUnknownError", status: 504, requestId: expect.stringMatching(uuid) });
  expect(keys(faults.proxy.seen)).toEqual([failed.requestId]);
  const again = await probe(sessionId, "merge", true, failed.requestId);
  expect(again.answer).toMatchObject({ status: "ok", settings: { team: { review: { owner: "ana" } } }, revision: 1 });
  expect(faults.proxy.seen[1]!.headers["idempotency-key"]).toBe(failed.requestId);
  expect(await revisions(sessionId)).toEqual([1]);
});

it("retries only once, and never a refusal: 400, 404, 409", async () => {
  const sessionId = await newSession();
  faults.service.redis.pause();
  expect(await probe(sessionId, "unset")).toMatchObject({ error: "OutcomeUnknownError", status: 504 });
  expect(faults.proxy.seen).toHaveLength(2);
  faults.service.redis.resume();
  faults.proxy.seen.length = 0;
  expect(await probe(sessionId, "invalid")).toMatchObject({ error: "InvalidRequestError", status: 400 });
  expect(await probe(`missing-${randomUUID()}`, "set")).toMatchObject({ error: "NotFoundError", status: 404 });
  const requestId = `mine-${randomUUID()}`;
  expect(await probe(sessionId, "conflict", true, requestId)).toEqual({ error: "ConflictError", status: 409, requestId });
  expect(faults.proxy.seen.map((r) => r.status)).toEqual([400, 404, 409]);
  expect(keys(faults.proxy.seen)[2]).toBe(requestId);
});
