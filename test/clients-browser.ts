// The browser side of test/web.test.ts: Debian's Chromium driven by
// playwright-core (no browser is downloaded), and what the panel tests do
// with pages.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts");

/** Chromium, once the panel is known to be built; screenshots go to test-artifacts/. `args` are extra command-line switches. */
export async function launchChromium(args: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\``);
  if (!existsSync(join(import.meta.dirname, "..", "dist", "web", "index.html"))) throw new Error("the panel is not built: run `npm run build`");
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync", ...args],
  });
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

/**
 * Holds back the page's calls to one Connect procedure (e.g. "SessionService/ListSessions")
 * until `release()`, to see what the page shows before that data arrives.
 */
export async function hold(page: Page, procedure: string): Promise<{ requested: Promise<void>; release: () => void }> {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const requested = new Promise<void>((r) => (reached = r));
  await page.route(`**/codexmanager.settings.v1.${procedure}`, async (route) => {
    reached();
    await released;
    await route.continue();
  });
  return { requested, release };
}

/** The visible text of the page's main area, one entry per line. */
export const mainLines = async (page: Page) => (await page.locator("main").innerText()).split(/\n+/).map((l) => l.trim()).filter(Boolean);
