// `cm`'s idempotent writes against real store faults: the real binary talks
// Connect through a recording proxy to a server on Redis, which the test
// freezes (OUTCOME_UNKNOWN) or kills (unavailable); the proxy thaws or
// restarts Redis exactly when the CLI's retry arrives.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ApplyControlsRequestSchema, SetSettingsRequestSchema, UnsetSettingRequestSchema } from "../gen/codexmanager/settings/v1/settings_pb.js";
import { proxiedFaults, type Forwarded } from "./clients-faults.js";

const BIN = resolve(import.meta.dirname, "..", "bin", "cm.mjs");
const faults = proxiedFaults();

type Run = { code: number; stdout: string; stderr: string };

/** The real binary, pointed at the proxy. */
function cm(...args: string[]): Promise<Run> {
  const { CODEX_MANAGER_API_BASE: _, ...env } = process.env;
  return new Promise((done) => {
    execFile(process.execPath, [BIN, "--base-url", faults.proxy.url, ...args], { env: { ...env, XDG_CONFIG_HOME: tmpdir() }, cwd: tmpdir() }, (err, stdout, stderr) => {
      done({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr });
    });
  });
}

async function newSession(): Promise<string> {
  const sessionId = `cli-retry-${randomUUID()}`;
  await faults.service.server.clients().sessions.createSession({ sessionId });
  return sessionId;
}

const revisions = async (sessionId: string) => (await faults.service.server.clients().settings.listHistory({ sessionId })).entries.map((e) => e.revision);
// cm speaks Connect with binary bodies: the request id is read out of each as the service would.
const WRITES = { SetSettings: SetSettingsRequestSchema, UnsetSetting: UnsetSettingRequestSchema, ApplyControls: ApplyControlsRequestSchema };
/** Each call the proxy saw: procedure, HTTP status, and the request id it carried. */
const calls = (seen: Forwarded[]) =>
  seen.map((r) => {
    const call = r.path.split("/").pop() as keyof typeof WRITES;
    return { call, status: r.status, requestId: fromBinary(WRITES[call], r.body).requestId };
  });

describe("cm writes when the store fails", { timeout: 60_000 }, () => {
  it("retries an unknown outcome once with the same request id; the write is applied once", async () => {
    const id = await newSession();
    faults.before = (n) => n === 1 && faults.service.redis.resume();
    faults.service.redis.pause();
    const r = await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", '"v"');
    expect(r).toMatchObject({ code: 0, stdout: "updated (revision 1) (the result of an earlier try with this request id)\n" });
    const [first, retry] = calls(faults.proxy.seen);
    expect(first).toMatchObject({ call: "SetSettings", status: 504 });
    expect(retry).toEqual({ ...first, status: 200 });
    expect(first!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await revisions(id)).toEqual([1n]);
  });

  it("retries unavailable once with the same request id; the write is applied once", async () => {
    const id = await newSession();
    faults.before = (n) => n === 1 && faults.service.revive();
    await faults.service.kill();
    const r = await cm("sessions", "controls", "apply", "--session-id", id, "--approval-policy", "never", "--network-access", "enabled", "--filesystem-sandbox", "read-only", "--inherit-model");
    expect(r).toMatchObject({ code: 0, stdout: "applied: default | never | enabled | read-only | settings:0 (revision 1)\n" });
    const [first, retry] = calls(faults.proxy.seen);
    expect(first).toMatchObject({ call: "ApplyControls", status: 503 });
    expect(retry).toEqual({ ...first, status: 200 });
    expect(await revisions(id)).toEqual([1n]);
  });

  it("with --no-retry exits 12 naming the request id; the same write with --request-id is then applied once", async () => {
    const id = await newSession();
    faults.service.redis.pause();
    const failed = await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1", "--no-retry");
    faults.service.redis.resume();
    expect(failed.code).toBe(12);
    const [call] = calls(faults.proxy.seen);
    expect(faults.proxy.seen).toHaveLength(1);
    expect(failed.stderr).toContain("cm: OUTCOME_UNKNOWN: ");
    expect(failed.stderr).toContain(`add --request-id ${call!.requestId}`);
    const again = await cm("--json", "sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1", "--request-id", call!.requestId);
    // The first try was applied when Redis thawed: the service answers its result.
    expect(JSON.parse(again.stdout)).toMatchObject({ requestId: call!.requestId, replayed: true, revision: 1 });
    expect(calls(faults.proxy.seen).map((c) => c.requestId)).toEqual([call!.requestId, call!.requestId]);
    expect(await revisions(id)).toEqual([1n]);
  });

  it("retries only once (exit 12), and never a refusal (exit 6, 3, 7)", async () => {
    const id = await newSession();
    faults.service.redis.pause();
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1")).code).toBe(12);
    faults.service.redis.resume();
    expect(faults.proxy.seen.map((r) => r.status)).toEqual([504, 504]);
    faults.proxy.seen.length = 0;
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1", "--if-revision", "9")).code).toBe(6);
    expect((await cm("sessions", "settings", "set", "--session-id", `missing-${randomUUID()}`, "--key", "k", "--value", "1")).code).toBe(3);
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--key", " ", "--value", "1")).code).toBe(7);
    expect(faults.proxy.seen.map((r) => r.status)).toEqual([409, 404, 400]);
  });
});
