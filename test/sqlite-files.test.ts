// The embedded store's file, as an operator meets it: a store written by the
// previous release is upgraded and served whole; files that are not ours are
// refused, naming the file and the cause; so are directories that cannot be
// used; and a full disk refuses writes honestly (503, not applied, not
// ready) and recovers by itself once space is freed. The full disk is a
// small tmpfs mounted in a mount namespace of the server's own (unshare), so
// no root is needed and nothing outside the test changes.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { startMain } from "./support/process.js";
import { restClient } from "./support/rest.js";
import { tempDataDir } from "./support/server.js";
import { sseReader } from "./support/sse.js";
import { until } from "./support/until.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "sqlite-v1", "settings.db");
/** Written by release cd4801b (schema 2, the change feed): test/fixtures/make-sqlite-v2.ts. */
const FIXTURE_V2 = join(import.meta.dirname, "fixtures", "sqlite-v2", "settings.db");
const APPLICATION_ID = 0x434d5353;

/** Starts the server on `dataDir` and answers how start-up ended: the listening line, or the exit and stderr. */
async function startOn(dataDir: string, wrap?: string[]) {
  const main = startMain({ DATA_DIR: dataDir }, { wrap });
  const outcome = await Promise.race([
    main.line(/"msg":"listening"/).then((line) => ({ listening: line as Record<string, any> })),
    main.exited.then(([code]) => ({ code, stderr: main.output().stderr })),
  ]);
  return { main, outcome };
}

async function expectRefused(dataDir: string, ...patterns: RegExp[]) {
  const { main, outcome } = await startOn(dataDir);
  if ("listening" in outcome) {
    main.child.kill("SIGKILL");
    throw new Error(`the server started on ${dataDir}`);
  }
  expect(outcome.code).toBe(1);
  for (const p of patterns) expect(outcome.stderr).toMatch(p);
}

describe("the SQLite store file", () => {
  it("serves a store written by the previous release whole, and stamps it as ours", async () => {
    const dataDir = tempDataDir();
    copyFileSync(FIXTURE, join(dataDir, "settings.db"));
    const { main, outcome } = await startOn(dataDir);
    if (!("listening" in outcome)) throw new Error(`refused: ${outcome.stderr}`);
    try {
      const rest = restClient(outcome.listening.address);
      const settings = await rest("GET", "/api/sessions/kept/settings");
      expect(settings.status).toBe(200);
      expect(settings.body.revision).toBe(8);
      expect(settings.body.settings).toEqual(
        JSON.parse('{"team":{"review":{"autoApprove":{"enabled":true,"threshold":"low"}}},"__proto__":{"x":1},"ключ":"значение","n":1.5,"counter":{"v":5}}'),
      );
      const controls = await rest("GET", "/api/sessions/kept/session-controls");
      expect(controls.body.controls).toMatchObject({ approvalPolicy: "on-request", model: null });
      expect(controls.body.defaults).toMatchObject({ model: "gpt-x", approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "workspace-write" });
      const history = await rest("GET", "/api/sessions/kept/settings/history?limit=10");
      expect(history.body.entries.map((e: { revision: number }) => e.revision)).toEqual([8, 7, 6, 5, 4]);
      expect((await rest("GET", "/api/sessions/gone/settings")).status).toBe(410);
      expect((await rest("GET", "/api/sessions/worker/settings")).status).toBe(403);
      // A remembered request id still answers its first result.
      const replay = await rest("POST", "/api/sessions/kept/settings", JSON.parse('{"settings":{"__proto__":{"x":1},"ключ":"значение","n":1.5}}'), {
        headers: { "idempotency-key": "req-1" },
      });
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.body.revision).toBe(2);
      const next = await rest("POST", "/api/sessions/kept/settings", { key: "after", value: 1 });
      expect(next.body.revision).toBe(9);
      // The change feed (schema 2) starts with the first write after the upgrade.
      const listing = await rest("GET", "/api/settings");
      expect(listing.body.items.map((i: { sessionId: string }) => i.sessionId)).toEqual(["", "kept"]);
      const events = await fetch(`${outcome.listening.address}/api/events?after=1.0`, { signal: AbortSignal.timeout(30_000) });
      const sse = sseReader(events);
      await sse.readUntil(/event: change\ndata: .*"revision":9/);
    } finally {
      main.child.kill("SIGTERM");
      await main.exited;
    }
    const db = new Database(join(dataDir, "settings.db"), { readonly: true });
    expect(db.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
    db.close();
  });

  it("upgrades a store written by the previous release (schema 2) to typed settings (schema 3), served whole", async () => {
    const dataDir = tempDataDir();
    copyFileSync(FIXTURE_V2, join(dataDir, "settings.db"));
    const { main, outcome } = await startOn(dataDir);
    if (!("listening" in outcome)) throw new Error(`refused: ${outcome.stderr}`);
    try {
      const rest = restClient(outcome.listening.address);
      const kept = await rest("GET", "/api/sessions/kept/settings");
      expect(kept.body).toMatchObject({ revision: 2, settings: JSON.parse('{"team":{"review":{"autoApprove":{"enabled":true,"threshold":80}}},"__proto__":{"x":1},"ключ":"значение"}') });
      expect((await rest("GET", "/api/sessions/gone/settings")).status).toBe(410);
      expect((await rest("GET", "/api/schemas")).body).toEqual({ schemas: [] });
      // The feed written before the upgrade is still read.
      expect((await rest("GET", "/api/settings")).body.cursor).toBe("1.8");
      // The value written before any schema existed is found when one is registered.
      const schema = { type: "object", properties: { review: { type: "object", properties: { autoApprove: { type: "object", properties: { enabled: { type: "boolean" }, threshold: { type: "integer", maximum: 100 } } } } } } };
      const refused = await rest("PUT", "/api/schemas/team", { schema });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ count: 1, violations: [{ sessionId: "other", scope: "session" }] });
      expect((await rest("PUT", "/api/schemas/team", { schema, force: true })).body).toMatchObject({ status: "ok", revision: 1, violations: 1 });
      expect((await rest("POST", "/api/sessions/kept/settings", { path: "team.review.autoApprove.threshold", value: 101 })).status).toBe(400);
      expect((await rest("POST", "/api/sessions/kept/settings", { path: "team.review.autoApprove.threshold", value: 90 })).body.revision).toBe(3);
    } finally {
      main.child.kill("SIGTERM");
      await main.exited;
    }
    const db = new Database(join(dataDir, "settings.db"), { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    expect(db.prepare("SELECT key, revision FROM schemas").all()).toEqual([{ key: "team", revision: 1 }]);
    db.close();
  });

  it("refuses an empty settings.db rather than serving an empty store", async () => {
    const dataDir = tempDataDir();
    writeFileSync(join(dataDir, "settings.db"), "");
    await expectRefused(dataDir, new RegExp(`${join(dataDir, "settings.db")} is empty`));
    expect(statSync(join(dataDir, "settings.db")).size).toBe(0);
  });

  it("refuses another application's SQLite file, and leaves it as it was", async () => {
    const dataDir = tempDataDir();
    const file = join(dataDir, "settings.db");
    const db = new Database(file);
    db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('mine')");
    db.close();
    const before = readFileSync(file);
    await expectRefused(dataDir, new RegExp(`${file} is not a settings store`), /notes/);
    expect(readFileSync(file).equals(before)).toBe(true);

    const other = tempDataDir();
    const foreign = new Database(join(other, "settings.db"));
    foreign.pragma("application_id = 1234");
    foreign.exec("CREATE TABLE sessions (x)");
    foreign.close();
    await expectRefused(other, /belongs to another application \(application_id 1234\)/);
  });

  it("says what is wrong when settings.db is a directory", async () => {
    const dataDir = tempDataDir();
    mkdirSync(join(dataDir, "settings.db"));
    await expectRefused(dataDir, new RegExp(`${join(dataDir, "settings.db")} is a directory`));
  });

  it("says the directory is not writable, naming it and the cause (mode 0555)", async () => {
    const dataDir = join(tempDataDir(), "ro");
    mkdirSync(dataDir, { mode: 0o555 });
    chmodSync(dataDir, 0o555);
    // Root may write anywhere: run the server as root without the capabilities that override
    // file modes (as another user it might not even reach the checkout, under a 0700 directory).
    const wrap = process.getuid?.() === 0 ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] : undefined;
    const { main, outcome } = await startOn(dataDir, wrap);
    if ("listening" in outcome) {
      main.child.kill("SIGKILL");
      throw new Error("started in a directory it cannot write");
    }
    expect(outcome.stderr).toContain(`DATA_DIR ${dataDir} is not writable: permission denied`);
  });

  it("says the file system is read-only, naming the directory", async () => {
    const dataDir = tempDataDir();
    const wrap = ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o ro,size=1m tmpfs "$DATA_DIR" && exec "$0" "$@"'];
    await expectRefusedWith(dataDir, wrap, `DATA_DIR ${dataDir} is not writable: read-only file system`);
  });
});

async function expectRefusedWith(dataDir: string, wrap: string[], ...texts: string[]) {
  const { main, outcome } = await startOn(dataDir, wrap);
  if ("listening" in outcome) {
    main.child.kill("SIGKILL");
    throw new Error("started on a read-only file system");
  }
  for (const t of texts) expect(outcome.stderr).toContain(t);
}

describe("a full disk", () => {
  it("refuses writes with 503 naming the cause, is not ready, applies none of them, and recovers once space is freed", async () => {
    const dataDir = tempDataDir();
    const wrap = ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=2m tmpfs "$DATA_DIR" && exec "$0" "$@"'];
    const { main, outcome } = await startOn(dataDir, wrap);
    if (!("listening" in outcome)) throw new Error(`refused: ${outcome.stderr}`);
    /** Runs a shell command in the server's mount namespace, where its tmpfs is. */
    const inside = (script: string) =>
      spawnSync("nsenter", ["-t", String(main.child.pid), "-U", "-m", "--preserve-credentials", "sh", "-c", script], {
        env: { ...process.env, D: dataDir },
      });
    try {
      const rest = restClient(outcome.listening.address);
      expect((await rest("POST", "/api/sessions", { sessionId: "s" })).status).toBe(200);
      const fill = inside('head -c 100M /dev/zero > "$D/filler"');
      expect(fill.stderr.toString()).toMatch(/No space left/);

      const big = "x".repeat(8 * 1024);
      const refused: string[] = [];
      const applied: string[] = [];
      // The WAL has room for a few writes already; past it, every write is refused.
      for (let i = 0; i < 2000 && refused.length < 20; i++) {
        const res = await rest("POST", "/api/sessions/s/settings", { key: `k${i}`, value: big });
        if (res.status === 200) applied.push(`k${i}`);
        else {
          expect(res.status, JSON.stringify(res.body)).toBe(503);
          expect(res.body).toMatchObject({ status: "error", code: "unavailable" });
          expect(res.body.message).toMatch(/disk is full/);
          refused.push(`k${i}`);
        }
      }
      expect(refused.length).toBe(20);
      expect((await fetch(`${outcome.listening.address}/readyz`)).status).toBe(503);
      expect((await rest("GET", "/api/sessions/s/settings")).status).toBe(200);

      inside('rm "$D/filler"');
      await until(async () => (await rest("POST", "/api/sessions/s/settings", { key: "after", value: 1 })).status === 200, "a write after space was freed");
      await until(async () => (await fetch(`${outcome.listening.address}/readyz`)).status === 200, "ready again");
      const read = await rest("GET", "/api/sessions/s/settings");
      for (const key of applied) expect(read.body.settings[key], key).toBe(big);
      for (const key of refused) expect(read.body.settings[key], key).toBeUndefined();
    } finally {
      main.child.kill("SIGTERM");
      await main.exited;
    }
    expect(main.output().stdout).toMatch(/"cause":"[^"]*disk is full","msg":"the store refused a write"/);
  });
});

// `setpriv` and `unshare` are util-linux, always on Debian; say so plainly if not.
for (const tool of ["setpriv", "unshare", "nsenter"]) {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`]);
  } catch {
    throw new Error(`test/sqlite-files.test.ts needs ${tool} (util-linux)`);
  }
}
