// The web panel end to end in real Chromium (Debian's, driven by
// playwright-core): create a session, change controls and settings through
// the UI and check them over REST, see REST changes arrive live, the lock,
// a two-tab conflict, a deleted session and a phone-sized layout; and that a
// page on another origin cannot write.
// One file (~380 lines) on purpose: every section shares one Chromium, whose
// start costs seconds, and a second file would start a second one beside it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hold, launchChromium, mainLines, shot } from "./clients-browser.js";
import { restClient, type Rest } from "./support/rest.js";
import { startTestServer, type TestServer } from "./support/server.js";

let browser: Browser;
let server: TestServer;
let rest: Rest;

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer({ backend: "sqlite" });
  rest = restClient(server.url);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(path: string, base = server.url, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  await page.goto(`${base}${path}`);
  return page;
}

async function createSession(): Promise<string> {
  const res = await rest("POST", "/api/sessions", { cwd: "/work" });
  return res.body.session.sessionId as string;
}

describe("the web panel", () => {
  it("creates a session, and changes a control and a setting that REST then reads", async () => {
    const page = await open("/");
    await page.getByLabel("Working directory").fill("/srv/project");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/sessions\/[0-9a-f-]{36}$/);
    const sessionId = decodeURIComponent(page.url().split("/sessions/")[1]!);
    await page.getByText("● Live").waitFor();

    await page.getByLabel("Approval policy").selectOption("never");
    await page.getByLabel("Model", { exact: true }).isDisabled();
    await page.getByLabel("Inherit the runtime's default model").uncheck();
    await page.getByLabel("Model", { exact: true }).fill("gpt-5");
    await page.getByRole("button", { name: "Apply controls" }).click();
    await expect.poll(async () => (await rest("GET", `/api/sessions/${sessionId}/session-controls`)).body.controls)
      .toMatchObject({ model: "gpt-5", approvalPolicy: "never" });

    await page.getByLabel("Key or dot path").fill("team.review.owner");
    await page.getByLabel("Value (JSON)").fill('"ana"');
    await page.getByRole("button", { name: "Add" }).click();
    await expect.poll(async () => (await rest("GET", `/api/sessions/${sessionId}/settings`)).body.settings)
      .toEqual({ team: { review: { owner: "ana" } } });
    await page.getByTestId("value-team.review.owner").waitFor();

    // An invalid value is explained, and nothing is sent.
    await page.getByLabel("Value (JSON)").fill("{not json");
    await page.getByLabel("Key or dot path").fill("broken");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByText(/Not valid JSON/).waitFor();
    expect((await rest("GET", `/api/sessions/${sessionId}/settings`)).body.revision).toBe(2);
    await shot(page, "session");

    // The list shows it, and deleting from the list works.
    await page.goto(`${server.url}/`);
    await page.getByRole("link", { name: sessionId }).waitFor();
    await shot(page, "sessions");
    await page.close();
  }, 60_000);

  it("says Loading… until data arrives, never an empty state it does not know yet", async () => {
    const sessionId = await createSession();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });

    const list = await hold(page, "SessionService/ListSessions");
    await page.goto(`${server.url}/`);
    await list.requested;
    await page.getByText("Loading…").waitFor();
    expect(await page.getByText("No sessions on this page.").count()).toBe(0);
    await shot(page, "sessions-loading");
    list.release();
    await page.locator(".sessions li").first().waitFor();
    expect(await page.getByText("Loading…").count()).toBe(0);

    // A session page shows nothing about the session until its controls arrive, then its history.
    const controls = await hold(page, "SettingsService/GetControls");
    const history = await hold(page, "SettingsService/ListHistory");
    await page.goto(`${server.url}/sessions/${sessionId}`);
    await controls.requested;
    await page.getByText("Loading…").waitFor();
    expect(await mainLines(page)).toEqual([`Session ${sessionId}`, "Loading…"]);
    controls.release();
    const historyPanel = page.getByRole("region", { name: "History" });
    await historyPanel.getByText("Loading…").waitFor();
    await history.requested;
    await page.getByRole("button", { name: "Apply controls" }).waitFor();
    expect(await page.getByText("No changes yet.").count()).toBe(0);
    await shot(page, "history-loading");
    history.release();
    await historyPanel.getByText("No changes yet.").waitFor();
    await page.getByText("● Live").waitFor();
    expect(await page.getByText("Loading…").count()).toBe(0);
    await page.close();
  }, 30_000);

  it("says Live only once the service has established the watch", async () => {
    const sessionId = await createSession();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const watching = await hold(page, "SettingsService/WatchSettings");
    await page.goto(`${server.url}/sessions/${sessionId}`);
    await watching.requested;
    // The page has its data and has asked for the stream, which has not answered yet.
    await page.getByRole("button", { name: "Apply controls" }).waitFor();
    await page.getByText("○ Connecting").waitFor({ timeout: 5000 });
    expect(await page.getByText("● Live").count()).toBe(0);
    watching.release();
    await page.getByText("● Live").waitFor();
    // Live means live: a change made now arrives.
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "after", value: 1, actor: "after-created" });
    await page.getByTestId("last-actor").filter({ hasText: "after-created" }).waitFor();
    await page.close();
  }, 30_000);

  it("answers an unknown id with a not-found page and nothing else; a system-owned session only says so", async () => {
    const page = await open("/sessions/does-not-exist");
    await page.getByRole("heading", { name: "Session not found" }).waitFor();
    expect(await mainLines(page)).toEqual(["Session not found", "No session has the id does-not-exist.", "Back to sessions"]);
    await shot(page, "not-found");
    await page.getByRole("link", { name: "Back to sessions" }).click();
    await page.getByRole("heading", { name: "Sessions" }).waitFor();

    const system = (await rest("POST", "/api/sessions", { systemOwned: true })).body.session.sessionId as string;
    await page.goto(`${server.url}/sessions/${system}`);
    await page.getByRole("heading", { name: "Session owned by the system" }).waitFor();
    expect(await mainLines(page)).toEqual([
      "Session owned by the system", `The session ${system} is owned by the system and cannot be viewed or changed here.`, "Back to sessions",
    ]);

    // A deleted one still says it was deleted, under its own heading.
    const deleted = await createSession();
    await rest("DELETE", `/api/sessions/${deleted}`);
    await page.goto(`${server.url}/sessions/${deleted}`);
    await page.getByText("This session was deleted.").waitFor();
    expect(await mainLines(page)).toEqual([`Session ${deleted}`, "This session was deleted. Its settings can no longer be changed. Back to sessions"]);
    await page.close();
  }, 30_000);

  it("shows a change made over REST live, within a second, with who made it", async () => {
    const sessionId = await createSession();
    const page = await open(`/sessions/${sessionId}`);
    await page.getByText("● Live").waitFor();
    const started = Date.now();
    await rest("POST", `/api/sessions/${sessionId}/settings`, { path: "team.review.owner", value: "bob", actor: "ci-bot", source: "curl" });
    await page.getByTestId("value-team.review.owner").filter({ hasText: '"bob"' }).waitFor({ timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(1000);
    await page.getByTestId("last-actor").filter({ hasText: "ci-bot" }).waitFor();
    await page.getByRole("region", { name: "History" }).getByText("curl").waitFor();
    await shot(page, "live-update");

    // Deleting it underneath shows the deleted state instead of a blank page.
    await rest("DELETE", `/api/sessions/${sessionId}`);
    await page.getByText("This session was deleted.").waitFor();
    await shot(page, "deleted");
    await page.close();
  }, 30_000);

  it("shows a conflict when two tabs edit the same key, and overwrites nothing", async () => {
    const sessionId = await createSession();
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "limit", value: 1 });
    const [a, b] = [await open(`/sessions/${sessionId}`), await open(`/sessions/${sessionId}`)];
    for (const tab of [a, b]) {
      await tab.getByText("● Live").waitFor();
      await tab.getByRole("button", { name: "Edit limit" }).click();
    }
    await a.getByLabel(/New value of/).fill("2");
    await a.getByRole("button", { name: "Save", exact: true }).click();
    await b.getByTestId("value-limit").filter({ hasText: "2" }).waitFor();
    await b.getByLabel(/New value of/).fill("3");
    await b.getByRole("button", { name: "Save", exact: true }).click();
    await b.getByText("Changed while you were editing.").waitFor();
    expect(await b.getByTestId("conflict-now").textContent()).toBe("2");
    expect((await rest("GET", `/api/sessions/${sessionId}/settings?key=limit`)).body.value).toBe(2);
    await shot(b, "conflict");
    await b.getByRole("button", { name: "Save mine anyway" }).click();
    await expect.poll(async () => (await rest("GET", `/api/sessions/${sessionId}/settings?key=limit`)).body.value).toBe(3);
    await a.close();
    await b.close();
  }, 30_000);

  it("edits and deletes keys that contain dots exactly where they were clicked", async () => {
    const sessionId = await createSession();
    await rest("POST", `/api/sessions/${sessionId}/settings`, { settings: { "a.b": { x: 1 }, team: { "v1.2": { on: true, keep: 1 } } } });
    const page = await open(`/sessions/${sessionId}`);
    await page.getByText("● Live").waitFor();
    await page.getByRole("button", { name: "Edit a.b › x" }).click();
    await page.getByLabel(/New value of/).fill("2");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("button", { name: "Delete team › v1.2 › on" }).click();
    await page.getByLabel("Key or dot path").fill('["team", "v1.2", "added"]');
    await page.getByLabel("Value (JSON)").fill("true");
    await page.getByRole("button", { name: "Add" }).click();
    await expect
      .poll(async () => (await rest("GET", `/api/sessions/${sessionId}/settings`)).body.settings)
      .toEqual({ "a.b": { x: 2 }, team: { "v1.2": { keep: 1, added: true } } });
    await shot(page, "dotted-keys");
    await page.close();
  }, 30_000);

  it("lets a browser EventSource follow changes over Server-Sent Events", async () => {
    const sessionId = await createSession();
    const page = await open("/");
    await page.evaluate(`window.received = []; window.source = new EventSource("/api/sessions/${sessionId}/settings/events"); window.source.addEventListener("change", (e) => window.received.push(JSON.parse(e.data))); new Promise((r) => window.source.addEventListener("open", r))`);
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "from", value: "curl", actor: "sse-test" });
    await page.waitForFunction("window.received.length === 1");
    const received = await page.evaluate<{ revision: number; actor: string; changes: unknown[] }[]>("window.received");
    expect(received[0]).toMatchObject({ revision: 1, actor: "sse-test", changes: [{ kind: "setting", key: "from", after: "curl" }] });
    await page.evaluate("window.source.close()");
    await page.close();
  }, 30_000);

  it("keeps a phone-sized layout from breaking, and works by keyboard", async () => {
    const sessionId = await createSession();
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "a-rather-long-key-name-to-wrap", value: { nested: { deeper: "value" } } });
    const page = await open(`/sessions/${sessionId}`, server.url, { width: 390, height: 844 });
    await page.getByText("● Live").waitFor();
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, "phone");
    // Keyboard: tab to the scope switch and change it with the arrow keys.
    await page.getByRole("radio", { name: "This session" }).focus();
    await page.keyboard.press("ArrowDown");
    expect(await page.getByRole("radio", { name: "New sessions default" }).isChecked()).toBe(true);
    await page.close();
  }, 30_000);
});

describe("the web panel with SESSION_DEFAULTS_LOCKED=true", () => {
  let locked: TestServer;
  beforeAll(async () => {
    locked = await startTestServer({ backend: "sqlite", env: { SESSION_DEFAULTS_LOCKED: "true" } });
  });
  afterAll(async () => {
    await locked?.close();
  });

  it("shows the default scope read-only, with a lock and the reason", async () => {
    const res = await restClient(locked.url)("POST", "/api/sessions", {});
    const page = await open(`/sessions/${res.body.session.sessionId}`, locked.url);
    await page.getByText("● Live").waitFor();
    await page.getByRole("radio", { name: "New sessions default" }).check();
    await page.getByText("New-session defaults are read-only: Managed by harness configuration").waitFor();
    expect(await page.getByRole("button", { name: "Apply controls" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Add" }).count()).toBe(0);
    await shot(page, "locked");
    await page.close();
  }, 30_000);
});

describe("the web panel when the store goes away", () => {
  it("says the store is unavailable, keeps the page, and pauses live updates", async () => {
    const { startRedis } = await import("./support/redis.js");
    const redis = await startRedis();
    const withRedis = await startTestServer({ backend: "redis", redisUrl: redis.url, env: { STORE_TIMEOUT_MS: "500" } });
    try {
      const res = await restClient(withRedis.url)("POST", "/api/sessions", {});
      const page = await open(`/sessions/${res.body.session.sessionId}`, withRedis.url);
      await page.getByText("● Live").waitFor();
      await redis.stop();
      await page.getByText("○ Live updates paused").waitFor({ timeout: 10_000 });
      await page.getByRole("button", { name: "Apply controls" }).click();
      await page.getByText("The settings store is unavailable. Try again in a moment.").waitFor({ timeout: 10_000 });
      expect(await page.getByRole("heading", { name: /Session/ }).count()).toBeGreaterThan(0);
      await shot(page, "unavailable");
      await page.close();
    } finally {
      await withRedis.close();
      await redis.stop();
    }
  }, 60_000);
});

describe("the web panel with authentication on", () => {
  it("asks for a token, then works with it", async () => {
    const token = `panel-${"t".repeat(24)}`;
    const file = join(mkdtempSync(join(tmpdir(), "cm-web-auth-")), "tokens.json");
    writeFileSync(file, JSON.stringify({ [token]: { actor: "panel-user", role: "write" } }));
    const authed = await startTestServer({ backend: "sqlite", env: { AUTH_TOKENS_FILE: file } });
    try {
      const page = await open("/", authed.url);
      await page.getByText("This service needs a token").waitFor();
      await page.getByLabel("Access token").fill(token);
      await page.getByRole("button", { name: "Create session" }).click();
      await page.waitForURL(/\/sessions\//);
      await page.getByText("● Live").waitFor();
      await page.getByLabel("Key or dot path").fill("who");
      await page.getByLabel("Value (JSON)").fill('"me"');
      await page.getByRole("button", { name: "Add" }).click();
      await page.getByTestId("last-actor").filter({ hasText: "panel-user" }).waitFor();
      await page.close();
    } finally {
      await authed.close();
    }
  }, 30_000);
});

describe("a page on another origin", () => {
  it("cannot write, with or without a preflight, while the panel on this origin can", async () => {
    // Another origin: the same address on another port, serving one blank page.
    const elsewhere = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>elsewhere</title>"));
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
    const sessionId = await createSession();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
      const tried = await page.evaluate(async ({ base, sessionId }) => {
        const settings = `${base}/api/sessions/${sessionId}/settings`;
        const controls = `${base}/api/sessions/${sessionId}/session-controls`;
        const payload = JSON.stringify({ key: "pwned", value: true });
        const policy = JSON.stringify({ controls: { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "danger-full-access" } });
        const attempts: [string, string, RequestInit][] = [
          // No preflight: the browser sends these as they are, and hides the answer from the page.
          ["text/plain, no-cors", settings, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: payload }],
          ["form, no-cors", settings, { method: "POST", mode: "no-cors", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "key=pwned&value=true" }],
          ["controls text/plain, no-cors", controls, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: policy }],
          ["new session, no body", `${base}/api/sessions`, { method: "POST", mode: "no-cors" }],
          ["text/plain", settings, { method: "POST", headers: { "content-type": "text/plain" }, body: payload }],
          // JSON needs a preflight, which no foreign origin passes.
          ["json", settings, { method: "POST", headers: { "content-type": "application/json" }, body: payload }],
          ["connect json", `${base}/codexmanager.settings.v1.SettingsService/SetSettings`, {
            method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ sessionId, entry: { key: "pwned", value: true } }),
          }],
        ];
        const out: Record<string, string> = {};
        for (const [name, url, init] of attempts) {
          try {
            const res = await fetch(url, init);
            out[name] = res.type === "opaque" ? "opaque" : `read ${res.status}`;
          } catch {
            out[name] = "failed";
          }
        }
        return out;
      }, { base: server.url, sessionId });
      // The page never reads an answer: opaque (no-cors) or a CORS failure.
      expect(tried).toEqual({
        "text/plain, no-cors": "opaque", "form, no-cors": "opaque", "controls text/plain, no-cors": "opaque", "new session, no body": "opaque",
        "text/plain": "failed", json: "failed", "connect json": "failed",
      });
      await page.close();
      // And nothing was applied.
      const after = await rest("GET", `/api/sessions/${sessionId}/settings`);
      expect(after.body).toMatchObject({ settings: {}, revision: 0 });
      expect((await rest("GET", `/api/sessions/${sessionId}/session-controls`)).body.controls).toMatchObject({ approvalPolicy: "untrusted", filesystemSandbox: "read-only" });
      const sessions = (await rest("GET", "/api/sessions?limit=100")).body.data as { sessionId: string; createdAt: number }[];
      expect(sessions.filter((s) => s.createdAt >= Math.floor(Date.now() / 1000) - 2 && s.sessionId !== sessionId)).toEqual([]);

      // The panel, on the server's own origin, writes as before.
      const panel = await open(`/sessions/${sessionId}`);
      await panel.getByText("● Live").waitFor();
      await panel.getByLabel("Key or dot path").fill("mine");
      await panel.getByLabel("Value (JSON)").fill("1");
      await panel.getByRole("button", { name: "Add" }).click();
      await expect.poll(async () => (await rest("GET", `/api/sessions/${sessionId}/settings`)).body.settings).toEqual({ mine: 1 });
      await panel.close();
    } finally {
      elsewhere.close();
    }
  }, 30_000);
});
