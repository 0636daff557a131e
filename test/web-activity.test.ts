// The panel's Activity page in real Chromium: it follows the store-wide
// change feed live (changes made over REST appear with who, from where and
// when, and link to their session), says "Live" only once the watch is
// established, and after the service goes away it says so and catches up
// with every change made meanwhile once it is back.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, shot } from "./clients-browser.js";
import { restClient } from "./support/rest.js";
import { startTestServer, tempDataDir, type TestServer } from "./support/server.js";

let browser: Browser;
let server: TestServer;

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer({ backend: "sqlite" });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("the Activity page", () => {
  it("shows changes across sessions live, with actor, source and time, linking to each session", async () => {
    const rest = restClient(server.url);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/`);
    await page.getByRole("link", { name: "Activity" }).click();
    await page.waitForURL(/\/activity$/);
    await page.getByText("● Live").waitFor();
    const a = (await rest("POST", "/api/sessions", { cwd: "/a" })).body.session.sessionId as string;
    const b = (await rest("POST", "/api/sessions", { cwd: "/b" })).body.session.sessionId as string;
    await rest("POST", `/api/sessions/${a}/settings`, { key: "team", value: { lead: "ana" }, actor: "ana", source: "curl" });
    await rest("POST", `/api/sessions/${b}/session-controls`, {
      controls: { model: null, approvalPolicy: "never", networkAccess: "enabled", filesystemSandbox: "workspace-write" },
      actor: "policy-bot",
      source: "policy",
    });
    await page.getByText(/controls #1 by policy-bot via policy/).waitFor();
    const items = await page.locator(".changes > li").allInnerTexts();
    expect(items[0]).toMatch(new RegExp(`${b} controls #1 by policy-bot via policy · \\d`));
    expect(items[0]).toContain('approvalPolicy: "untrusted" → "never"');
    expect(items[1]).toMatch(new RegExp(`${a} settings #1 by ana via curl`));
    expect(items[1]).toContain('team: — → {"lead":"ana"}');
    expect(items.some((t) => t.startsWith(`${a} created #0`))).toBe(true);
    await shot(page, "activity");
    await page.getByRole("link", { name: a }).first().click();
    await page.waitForURL(new RegExp(`/sessions/${a}$`));
    await page.getByText("● Live").waitFor();
    await page.close();
  }, 60_000);

  it("pauses when the service goes away, and shows what changed meanwhile once it is back", async () => {
    const dataDir = tempDataDir();
    let own = await startTestServer({ backend: "sqlite", dataDir, env: { PORT: "0" } });
    const port = own.port;
    const page = await browser.newPage();
    await page.goto(`${own.url}/activity`);
    await page.getByText("● Live").waitFor();
    const rest = restClient(own.url);
    const id = (await rest("POST", "/api/sessions", {})).body.session.sessionId as string;
    await page.getByText(`${id}`).first().waitFor();
    await own.close();
    await page.getByText("○ Live updates paused").waitFor();
    // The same data on the same port: the page reconnects after the last change it showed.
    own = await startTestServer({ backend: "sqlite", dataDir, env: { PORT: String(port) } });
    try {
      await restClient(own.url)("POST", `/api/sessions/${id}/settings`, { key: "while", value: "away" });
      await page.getByText(/settings #1 by user via api/).waitFor({ timeout: 20_000 });
      await page.getByText("● Live").waitFor();
      expect(await page.locator(".changes > li").count()).toBe(2);
    } finally {
      await page.close();
      await own.close();
    }
  }, 60_000);
});
