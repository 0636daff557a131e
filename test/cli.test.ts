// The real `cm` binary against a live server, through the shared profile file.
// One file (~320 lines): every command against the same two servers and the
// one profile file that names them, which a second file would set up again.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/main.js";
import { startTestServer, type TestServer } from "./support/server.js";

const BIN = resolve(import.meta.dirname, "..", "bin", "cm.mjs");

let server: TestServer;
let locked: TestServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startTestServer({ backend: "sqlite" });
  locked = await startTestServer({ backend: "sqlite", env: { SESSION_DEFAULTS_LOCKED: "true" } });
  const home = mkdtempSync(join(tmpdir(), "cm-cli-"));
  mkdirSync(join(home, "codex-manager", "cli"), { recursive: true });
  writeFileSync(
    join(home, "codex-manager", "cli", "config.json"),
    JSON.stringify({ currentProfile: "local", profiles: { local: { baseUrl: server.url, apiPrefix: "/api" }, locked: { baseUrl: locked.url } } }),
  );
  const { CODEX_MANAGER_API_BASE: _, ...rest } = process.env;
  env = { ...rest, XDG_CONFIG_HOME: home };
});
afterAll(async () => {
  await server?.close();
  await locked?.close();
});

type Run = { code: number; stdout: string; stderr: string };

/** Runs the binary from a directory of its own: nothing may depend on the working directory. */
function cm(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd: tmpdir() }, (err, stdout, stderr) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr });
    });
  });
}

const lines = (text: string) => text.trimEnd().split("\n");

async function created(): Promise<string> {
  const r = await cm("--json", "sessions", "create", "--cwd", "/w");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).session.sessionId;
}

// Every run starts Node and tsx: half a second, and several seconds on a loaded machine.
describe("cm", { timeout: 60_000 }, () => {
  it("creates a session, sets, gets and unsets settings, human and --json", async () => {
    const id = await created();
    const human = await cm("sessions", "settings", "set", "--session-id", id, "--key", "team", "--value", '{"review":{"owner":"ana"}}');
    expect(human).toMatchObject({ code: 0 });
    expect(human.stdout).toContain("updated (revision 1)");
    const map = await cm("--json", "sessions", "settings", "set", "--session-id", id, "--settings", '{"x":1}', "--mode", "merge");
    expect(JSON.parse(map.stdout)).toMatchObject({ changed: true, revision: 2 });
    const file = join(mkdtempSync(join(tmpdir(), "cm-val-")), "v.json");
    writeFileSync(file, "[1,2,3]");
    await cm("sessions", "settings", "set", "--session-id", id, "--key", "list", "--value-file", file);
    const got = await cm("--json", "sessions", "settings", "get", "--session-id", id);
    expect(JSON.parse(got.stdout)).toEqual({ settings: { team: { review: { owner: "ana" } }, x: 1, list: [1, 2, 3] }, revision: 3 });
    const one = await cm("sessions", "settings", "get", "--session-id", id, "--key", "x");
    expect(one.stdout.trim()).toBe("1");
    const unset = await cm("sessions", "settings", "unset", "--session-id", id, "--key", "x");
    expect(unset.stdout).toContain("removed x");
    const history = await server.clients().settings.listHistory({ sessionId: id, limit: 1 });
    expect(history.entries[0]!.source).toBe("cli");
  });

  it("writes and unsets nested paths, by --path or by repeated --segment for keys with dots", async () => {
    const id = await created();
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--path", "team.review", "--value", '{"owner":"ana"}')).code).toBe(0);
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--segment", "team", "--segment", "v1.2", "--value", '{"on":true}')).code).toBe(0);
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--segment", "team", "--segment", "v1.2", "--merge", "--value", '{"level":2}')).code).toBe(0);
    const unset = await cm("sessions", "settings", "unset", "--session-id", id, "--path", "team.review");
    expect(unset.stdout).toContain("removed");
    const got = await cm("--json", "sessions", "settings", "get", "--session-id", id);
    expect(JSON.parse(got.stdout).settings).toEqual({ team: { "v1.2": { on: true, level: 2 } } });
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--path", "a", "--segment", "b", "--value", "1")).code).toBe(2);
    expect((await cm("sessions", "settings", "unset", "--session-id", id)).code).toBe(2);
  });

  it("gets and applies controls, with --model or --inherit-model", async () => {
    const id = await created();
    const applied = await cm("sessions", "controls", "apply", "--session-id", id, "--approval-policy", "on-request", "--network-access", "enabled", "--filesystem-sandbox", "workspace-write", "--model", "gpt-5");
    expect(applied.stdout).toContain("applied: gpt-5 | on-request | enabled | workspace-write | settings:0");
    const inherit = await cm("sessions", "controls", "apply", "--session-id", id, "--approval-policy", "on-request", "--network-access", "enabled", "--filesystem-sandbox", "workspace-write", "--inherit-model");
    expect(inherit.stdout).toContain("applied: default |");
    const got = await cm("--json", "sessions", "controls", "get", "--session-id", id);
    expect(JSON.parse(got.stdout)).toMatchObject({ session: { model: null, approvalPolicy: "on-request" }, defaultsEditable: true });
  });

  it("registers, shows, lists and removes schemas; a refused write prints each issue at its path and exits 7", async () => {
    const key = `typed-${randomUUID().slice(0, 8)}`;
    const id = await created();
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--key", key, "--value", '{"threshold":500}')).code).toBe(0);
    const file = join(mkdtempSync(join(tmpdir(), "cm-schema-")), "schema.json");
    writeFileSync(file, JSON.stringify({ type: "object", properties: { threshold: { type: "integer", maximum: 100 }, level: { enum: ["low", "high"] } } }));
    const refused = await cm("schema", "put", key, file);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain(`cm: SCHEMA_VIOLATED: 1 stored value of "${key}" breaks the schema`);
    expect(lines(refused.stderr)).toContain(`  session ${id}:`);
    expect(lines(refused.stderr)).toContain(`    /${key}/threshold: must be <= 100 (maximum)`);
    const forced = await cm("schema", "put", key, file, "--force", "--actor", "ana");
    expect(forced).toMatchObject({ code: 0 });
    expect(forced.stdout).toMatch(new RegExp(`registered schema of ${key} \\(revision \\d+\\); 1 stored value\\(s\\) break it`));
    const violations = await cm("schema", "violations", key);
    expect(lines(violations.stdout)).toEqual([expect.stringContaining(`1 stored value(s) of ${key} break its schema`), `session ${id}:`, `  /${key}/threshold: must be <= 100 (maximum)`]);
    const write = await cm("sessions", "settings", "set", "--session-id", id, "--key", key, "--value", '{"threshold":7,"level":"lwo"}');
    expect(write.code).toBe(7);
    expect(lines(write.stderr).slice(1)).toEqual([`  /${key}/level: must be equal to one of the allowed values: "low", "high" (enum)`]);
    expect(JSON.parse((await cm("--json", "schema", "get", key)).stdout)).toMatchObject({ key, actor: "ana", history: [{ op: "put", forced: true }] });
    expect((await cm("schema", "list")).stdout).toMatch(new RegExp(`^${key}  revision \\d+$`, "m"));
    expect((await cm("schema", "delete", key)).stdout).toContain(`removed the schema of ${key}`);
    expect(await cm("schema", "get", key)).toMatchObject({ code: 3 });
  });

  it("exits with distinct codes: usage 2, not found 3, deleted 4, locked 5, conflict 6, invalid 7", async () => {
    expect((await cm("sessions", "settings", "get")).code).toBe(2);
    expect((await cm("sessions", "settings", "set", "--session-id", "x", "--key", "k", "--value", "not json")).code).toBe(2);
    expect((await cm("sessions", "controls", "apply", "--session-id", "x", "--approval-policy", "never", "--network-access", "enabled", "--filesystem-sandbox", "read-only")).code).toBe(2);
    const missing = await cm("sessions", "settings", "get", "--session-id", "missing-session");
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("SESSION_NOT_FOUND");
    const id = await created();
    await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1");
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "2", "--if-revision", "0")).code).toBe(6);
    expect((await cm("sessions", "settings", "set", "--session-id", id, "--key", " ", "--value", "2")).code).toBe(7);
    const lockedRun = await cm("--profile", "locked", "--json", "sessions", "create");
    const lockedId = JSON.parse(lockedRun.stdout).session.sessionId;
    expect((await cm("--profile", "locked", "sessions", "settings", "set", "--session-id", lockedId, "--scope", "default", "--key", "k", "--value", "1")).code).toBe(5);
    await server.clients().sessions.deleteSession({ sessionId: id });
    expect((await cm("sessions", "settings", "get", "--session-id", id)).code).toBe(4);
    expect((await cm("--base-url", "http://127.0.0.1:9", "sessions", "create")).code).toBe(9);
  });

  it("sends a bearer token with --bearer, --token, $CODEX_MANAGER_BEARER_TOKEN or $CODEX_MANAGER_API_TOKEN, and exits 10/11 when refused", async () => {
    const token = `cli-${"x".repeat(20)}`;
    const file = join(mkdtempSync(join(tmpdir(), "cm-cli-auth-")), "tokens.json");
    writeFileSync(file, JSON.stringify({ [token]: { actor: "cli-user", role: "read" } }));
    const authed = await startTestServer({ backend: "sqlite", env: { AUTH_TOKENS_FILE: file } });
    try {
      expect((await cm("--base-url", authed.url, "sessions", "create")).code).toBe(10);
      expect((await cm("--base-url", authed.url, "--bearer", token, "sessions", "create")).code).toBe(11);
      expect((await cm("--base-url", authed.url, "--token", token, "sessions", "create")).code).toBe(11);
      for (const name of ["CODEX_MANAGER_BEARER_TOKEN", "CODEX_MANAGER_API_TOKEN"]) {
        const prev = env[name];
        env[name] = token;
        const missing = await cm("--base-url", authed.url, "sessions", "settings", "get", "--session-id", "nope");
        env[name] = prev;
        expect(missing.code, name).toBe(3);
      }
    } finally {
      await authed.close();
    }
  });

  it("watch streams changes as JSON lines", async () => {
    const id = await created();
    // From revision 0 the stream replays what it missed, so the write need not wait for it to connect.
    const child = spawn(process.execPath, [BIN, "sessions", "settings", "watch", "--session-id", id, "--from-revision", "0"], { env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    await cm("sessions", "settings", "set", "--session-id", id, "--key", "live", "--value", '"yes"', "--actor", "ana");
    const deadline = Date.now() + 10_000;
    while (!out.includes("\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGTERM");
    const line = JSON.parse(out.split("\n")[0]!);
    expect(line).toMatchObject({ revision: 1, op: "set", actor: "ana", source: "cli", changes: [{ key: "live", after: "yes" }] });
  });

  it("watch --json prints the created line first, once the watch is established; then no change is missed", async () => {
    const id = await created();
    const child = spawn(process.execPath, [BIN, "--json", "sessions", "settings", "watch", "--session-id", id], { env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const line = async (n: number) => {
      await expect.poll(() => lines(out).length > n && out.endsWith("\n"), { timeout: 10_000, interval: 20 }).toBe(true);
      return JSON.parse(lines(out)[n]!);
    };
    try {
      expect(await line(0)).toEqual({ created: true, revision: 0 });
      await cm("sessions", "settings", "set", "--session-id", id, "--key", "live", "--value", "1");
      expect(await line(1)).toMatchObject({ revision: 1, op: "set", changes: [{ key: "live", after: 1 }] });
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("watch --all follows every session's changes, filtered by --key; --json prints the created line first", async () => {
    const child = spawn(process.execPath, [BIN, "--json", "watch", "--all", "--key", "team"], { env });
    let out = "";
    let text = "";
    child.stdout.on("data", (d) => (out += d));
    const line = async (n: number) => {
      await expect.poll(() => lines(out).length > n && out.endsWith("\n"), { timeout: 10_000, interval: 20 }).toBe(true);
      return JSON.parse(lines(out)[n]!);
    };
    let human: ReturnType<typeof spawn> | undefined;
    try {
      const first = await line(0);
      expect(first).toEqual({ created: true, cursor: expect.any(String) });
      // The human one prints no created line: from that cursor, it misses nothing either.
      human = spawn(process.execPath, [BIN, "watch", "--all", "--after", first.cursor], { env });
      human.stdout!.on("data", (d) => (text += d));
      const id = await created();
      await cm("sessions", "settings", "set", "--session-id", id, "--key", "other", "--value", "1");
      await cm("sessions", "settings", "set", "--session-id", id, "--key", "team", "--value", '{"lead":"ana"}');
      expect(await line(1)).toMatchObject({ sessionId: id, kind: "settings", revision: 2, entry: { changes: [{ key: "team", after: { lead: "ana" } }] } });
      await expect.poll(() => text, { timeout: 10_000, interval: 20 }).toContain(`${id} settings #2 `);
      expect(text).toMatch(new RegExp(`${id} session_created #0 .* create by user via api: model, approvalPolicy, networkAccess, filesystemSandbox`));
      expect(text).toMatch(new RegExp(`${id} settings #2 .* set by user via cli: team \\(cursor [^)]+\\)`));
    } finally {
      child.kill("SIGTERM");
      human?.kill("SIGTERM");
    }
  });

  it("sends --request-id as the write's request id: the same id again answers the first result", async () => {
    const id = await created();
    const requestId = `cli-${randomUUID()}`;
    const first = await cm("--json", "sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1", "--request-id", requestId);
    expect(JSON.parse(first.stdout)).toMatchObject({ changed: true, revision: 1, requestId, replayed: false });
    const again = await cm("sessions", "settings", "set", "--session-id", id, "--key", "k", "--value", "1", "--request-id", requestId);
    expect(again.stdout).toBe("updated (revision 1) (the result of an earlier try with this request id)\n");
    // Without --request-id each write has its own.
    const own = JSON.parse((await cm("--json", "sessions", "settings", "unset", "--session-id", id, "--key", "k")).stdout);
    expect(own).toMatchObject({ removed: true, replayed: false, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((await server.clients().settings.listHistory({ sessionId: id })).entries.map((e) => e.revision)).toEqual([2n, 1n]);
  });

  it("prints the package's version, and exits 2 on usage errors, bare cm included", async () => {
    const { version } = JSON.parse(readFileSync(resolve(import.meta.dirname, "..", "package.json"), "utf8"));
    expect(await cm("--version")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    const help = await cm("--help");
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toContain("Usage: cm [options] [command]");
    // Bare cm is a usage error: help on stderr, where a script's output will not take it for data.
    const bare = await cm();
    expect(bare).toMatchObject({ code: 2, stdout: "" });
    expect(bare.stderr).toContain("Usage: cm [options] [command]");
    expect((await cm("sessions")).code).toBe(2);
    const badScope = await cm("sessions", "settings", "get", "--session-id", "x", "--scope", "everywhere");
    expect(badScope).toMatchObject({ code: 2, stdout: "" });
    expect(badScope.stderr).toContain("--scope");
    expect((await cm("sessions", "settings", "set", "--session-id", "x", "--key", "k", "--value", "1", "--if-revision", "-1")).code).toBe(2);
    expect((await cm("sessions", "create", "--no-such-option")).code).toBe(2);
    expect((await cm("sessions", "no-such-command")).code).toBe(2);
  });

  it("lists sessions a page at a time, gets one, and deletes it, human and --json", async () => {
    const ids = [`list-${randomUUID()}`, `list-${randomUUID()}`];
    for (const id of ids) expect((await cm("sessions", "create", "--session-id", id, "--cwd", "/srv/list")).code).toBe(0);

    const badLimit = await cm("sessions", "list", "--limit", "0");
    expect(badLimit).toMatchObject({ code: 2, stdout: "" });
    expect(badLimit.stderr).toContain("--limit");
    const all = JSON.parse((await cm("--json", "sessions", "list", "--limit", "500")).stdout);
    expect(all.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual(expect.arrayContaining(ids));
    const first = await cm("sessions", "list", "--limit", "1");
    expect(first.code).toBe(0);
    const [row, more] = lines(first.stdout);
    expect(row).toMatch(/^\S+ {2}\S+ {2}\d{4}-\d\d-\d\dT\S+Z$/);
    expect(more).toMatch(/^more: --page-token \S+$/);
    const second = await cm("sessions", "list", "--limit", "1", "--page-token", more!.split(" ").pop()!);
    expect(lines(second.stdout)[0]!.split("  ")[0]).not.toBe(row!.split("  ")[0]);

    const human = await cm("sessions", "get", "--session-id", ids[0]!);
    expect(lines(human.stdout)).toEqual([
      `session ${ids[0]}`, "cwd: /srv/list", expect.stringMatching(/^created: \d{4}-/),
      "controls: default | untrusted | restricted | read-only | settings:0 (revision 0)",
    ]);
    const json = JSON.parse((await cm("sessions", "get", "--session-id", ids[0]!, "--json")).stdout);
    expect(json).toMatchObject({ session: { sessionId: ids[0], cwd: "/srv/list", systemOwned: false }, controls: { model: null, revision: 0 } });

    expect(await cm("sessions", "delete", "--session-id", ids[0]!)).toEqual({ code: 0, stdout: `deleted session ${ids[0]}\n`, stderr: "" });
    const deleted = JSON.parse((await cm("--json", "sessions", "delete", "--session-id", ids[1]!)).stdout);
    expect(deleted).toEqual({ sessionId: ids[1], deletedAt: expect.stringMatching(/Z$/) });
    expect((await cm("sessions", "get", "--session-id", ids[0]!)).code).toBe(4);
    expect((await cm("sessions", "delete", "--session-id", ids[0]!)).code).toBe(4);
    expect((await cm("sessions", "delete", "--session-id", `missing-${randomUUID()}`)).code).toBe(3);
    const after = JSON.parse((await cm("--json", "sessions", "list", "--limit", "500")).stdout);
    expect(after.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(ids[0]);
  });

  it("lists history newest first, one line per entry, paged with --before-revision; --json prints the page", async () => {
    const id = await created();
    expect((await cm("sessions", "settings", "history", "--session-id", id)).stdout).toBe("no changes\n");
    await cm("sessions", "settings", "set", "--session-id", id, "--key", "team", "--value", '{"lead":"ana"}', "--actor", "ana");
    await cm("sessions", "settings", "set", "--session-id", id, "--settings", '{"x":1,"two words":2}', "--source", "script");
    await cm("sessions", "settings", "unset", "--session-id", id, "--key", "x");

    const time = "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";
    const all = await cm("sessions", "settings", "history", "--session-id", id);
    expect(all.code).toBe(0);
    expect(lines(all.stdout)).toEqual([
      expect.stringMatching(new RegExp(`^#3 ${time} unset by user via cli: x$`)),
      expect.stringMatching(new RegExp(`^#2 ${time} merge by user via script: "two words", x$`)),
      expect.stringMatching(new RegExp(`^#1 ${time} set by ana via cli: team$`)),
    ]);
    const page = await cm("sessions", "settings", "history", "--session-id", id, "--limit", "2");
    expect(lines(page.stdout)).toEqual([lines(all.stdout)[0], lines(all.stdout)[1], "more: --before-revision 2"]);
    const rest = await cm("sessions", "settings", "history", "--session-id", id, "--limit", "2", "--before-revision", "2");
    expect(lines(rest.stdout)).toEqual([lines(all.stdout)[2]]);

    const json = JSON.parse((await cm("--json", "sessions", "settings", "history", "--session-id", id, "--limit", "1")).stdout);
    expect(json).toEqual({
      entries: [{ revision: 3, scope: "session", op: "unset", actor: "user", source: "cli", time: expect.stringMatching(/Z$/), changes: [{ kind: "setting", key: "x", before: 1 }] }],
      nextBeforeRevision: 3,
    });
    expect((await cm("sessions", "settings", "history", "--session-id", id, "--scope", "default")).code).toBe(0);
    expect((await cm("sessions", "settings", "history", "--session-id", `missing-${randomUUID()}`)).code).toBe(3);
    expect((await cm("sessions", "settings", "history", "--session-id", id, "--before-revision", "x")).code).toBe(2);
  });

  it("describes every command, and every option of each, in its --help", async () => {
    const walk = (cmd: Command, path: string[] = []): [string[], Command][] =>
      [[path, cmd], ...cmd.commands.flatMap((sub) => walk(sub, [...path, sub.name()]))];
    // The tree as the code declares it, hidden options included; the help text from the real binary.
    const commands = walk(buildProgram({ out: () => {}, err: () => {} }));
    expect(commands.map(([path]) => path.join(" "))).toEqual(expect.arrayContaining([
      "sessions create", "sessions list", "sessions get", "sessions delete", "sessions controls get", "sessions controls apply",
      "sessions settings get", "sessions settings set", "sessions settings unset", "sessions settings history", "sessions settings watch",
    ]));
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // A help row is "  <term>  <description>"; a row without a description is the term alone.
    const described = (help: string, term: string) => new RegExp(`^ {2}${escape(term)}( [^\\n]*?)? {2,}\\S`, "m").test(help);
    await Promise.all(commands.map(async ([path, cmd]) => {
      const name = ["cm", ...path].join(" ");
      const help = await cm(...path, "--help");
      expect(help.code, name).toBe(0);
      expect(cmd.description(), `${name} has a description`).not.toBe("");
      expect(help.stdout, name).toContain(cmd.description().slice(0, 40));
      for (const option of cmd.options) expect(described(help.stdout, option.flags), `${name}: ${option.flags}`).toBe(true);
      for (const sub of cmd.commands) expect(described(help.stdout, sub.name()), `${name}: ${sub.name()}`).toBe(true);
    }));
  });
});
