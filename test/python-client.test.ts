// Runs the Python client's stdlib unittest suite and its example against
// live servers: one with the default scope editable, one locked.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { restClient } from "./support/rest.js";
import { startTestServer, type TestServer } from "./support/server.js";

const run = promisify(execFile);
let open: TestServer;
let locked: TestServer;
let authed: TestServer;
const TOKENS = { read: `py-read-${randomUUID()}`, write: `py-write-${randomUUID()}` };

beforeAll(async () => {
  // Frequent heartbeats, so that the watch tests see one without waiting long.
  // A short change feed, so that a test can push a cursor out of it.
  open = await startTestServer({ backend: "sqlite", env: { WATCH_HEARTBEAT_MS: "200", FEED_LIMIT: "50" } });
  locked = await startTestServer({ backend: "sqlite", env: { SESSION_DEFAULTS_LOCKED: "true" } });
  const tokens = join(mkdtempSync(join(tmpdir(), "cm-py-auth-")), "tokens.json");
  writeFileSync(tokens, JSON.stringify({ [TOKENS.read]: { actor: "py-reader", role: "read" }, [TOKENS.write]: { actor: "py-writer", role: "write" } }));
  authed = await startTestServer({ backend: "sqlite", env: { AUTH_TOKENS_FILE: tokens } });
});
afterAll(async () => {
  await open?.close();
  await locked?.close();
  await authed?.close();
});

it("passes the Python client's unittest suite (standard library only)", async () => {
  const result = await run("python3", ["-m", "unittest", "discover", "-s", "clients/python/tests", "-v"], {
    env: {
      ...process.env, PYTHONPATH: "clients/python", CODEX_MANAGER_API_BASE: open.url, CM_TEST_LOCKED_API_BASE: locked.url,
      CM_TEST_AUTH_API_BASE: authed.url, CM_TEST_READ_TOKEN: TOKENS.read, CM_TEST_WRITE_TOKEN: TOKENS.write,
    },
  }).catch((err: { stdout: string; stderr: string }) => {
    throw new Error(`python tests failed:\n${err.stderr}\n${err.stdout}`);
  });
  expect(result.stderr).toMatch(/OK/);
}, 120_000);

/** Runs a Python script as a user would: configured only by the shared profile file, pointing at `server`. */
async function runWithProfile(script: string, server: TestServer): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "cm-xdg-"));
  mkdirSync(join(home, "codex-manager", "cli"), { recursive: true });
  writeFileSync(
    join(home, "codex-manager", "cli", "config.json"),
    JSON.stringify({ currentProfile: "local", profiles: { local: { baseUrl: server.url, apiPrefix: "/api" } } }),
  );
  const { CODEX_MANAGER_API_BASE: _, ...env } = process.env;
  const { stdout } = await run("python3", [script], { env: { ...env, PYTHONPATH: "clients/python", XDG_CONFIG_HOME: home } });
  return stdout;
}

it("runs the seed document's example verbatim, and leaves the session as it says", async () => {
  const stdout = await runWithProfile("clients/python/examples/seed_example.py", open);
  // It prints one thing: the key read back after the full replace.
  const lines = stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\{'status': 'ok', 'sessionId': '[0-9a-f-]{36}', 'scope': 'session', 'key': 'team', 'found': True, /);
  expect(lines[0]).toContain(
    "'value': {'definitionOfDone': 'tests green + docs updated', 'review': {'autoApprove': {'enabled': False, 'threshold': 'low'}}}, 'revision': 3}",
  );
  const sessionId = /'sessionId': '([^']+)'/.exec(lines[0]!)![1]!;
  // Then the key was removed and the controls applied, keeping the (now empty) settings.
  const rest = restClient(open.url);
  expect((await rest("GET", `/api/sessions/${sessionId}/settings`)).body).toMatchObject({ settings: {}, revision: 5 });
  expect((await rest("GET", `/api/sessions/${sessionId}/session-controls`)).body.controls).toEqual({
    model: null, approvalPolicy: "on-request", networkAccess: "restricted", filesystemSandbox: "workspace-write", settings: {}, revision: 5,
  });
  const history = (await rest("GET", `/api/sessions/${sessionId}/settings/history`)).body.entries as { op: string; source: string }[];
  expect(history.map((e) => `${e.op} via ${e.source}`)).toEqual([
    "controls via policy-update", "unset via api", "replace via python-script", "path via api", "set via python-script",
  ]);
}, 60_000);
