// Runs the Python client's stdlib unittest suite and its example against
// live servers: one with the default scope editable, one locked.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

const run = promisify(execFile);
let open: TestServer;
let locked: TestServer;
let authed: TestServer;
const TOKENS = { read: `py-read-${randomUUID()}`, write: `py-write-${randomUUID()}` };

beforeAll(async () => {
  // Frequent heartbeats, so that the watch tests see one without waiting long.
  open = await startTestServer({ backend: "sqlite", env: { WATCH_HEARTBEAT_MS: "200" } });
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

it("runs the example unmodified against a live server through the shared profile file", async () => {
  const home = mkdtempSync(join(tmpdir(), "cm-xdg-"));
  mkdirSync(join(home, "codex-manager", "cli"), { recursive: true });
  writeFileSync(
    join(home, "codex-manager", "cli", "config.json"),
    JSON.stringify({ currentProfile: "local", profiles: { local: { baseUrl: open.url, apiPrefix: "/api" } } }),
  );
  const { CODEX_MANAGER_API_BASE: _, ...env } = process.env;
  const { stdout } = await run("python3", ["clients/python/examples/session_settings.py"], {
    env: { ...env, PYTHONPATH: "clients/python", XDG_CONFIG_HOME: home },
  });
  expect(stdout).toContain("'key': 'team'");
  expect(stdout).toContain("'definitionOfDone': 'tests green + docs updated'");
  expect(stdout).toContain("'autoApprove': {'enabled': True, 'threshold': 'low'}");
}, 60_000);
