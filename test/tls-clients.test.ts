// The clients over TLS, against certificates the test makes itself: the
// Python client (ca_file, cert) and `cm` (--ca-file, --cert, --key) against
// a server that requires client certificates, the panel in Chromium over
// https, and the compiled server taking new certificates on SIGHUP.
import { execFile } from "node:child_process";
import { createHash, randomUUID, X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import tls from "node:tls";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSettingsSdk } from "../src/client/index.js";
import { createSettingsTransport } from "../src/client/node.js";
import { launchChromium, shot } from "./clients-browser.js";
import { makePki } from "./support/certs.js";
import { startMain } from "./support/process.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { until } from "./support/until.js";

const CM = resolve(import.meta.dirname, "..", "bin", "cm.mjs");
const pki = makePki();
const automation = pki.issue("automation", "/CN=automation", "URI:spiffe://cm-test/automation");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) =>
    execFile(command, args, { env, cwd: tmpdir() }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
  );
}

describe("the Python client and cm against a server that requires client certificates", () => {
  let server: TestServer;
  beforeAll(async () => {
    const tokens = join(mkdtempSync(join(tmpdir(), "cm-tls-")), "tokens.json");
    writeFileSync(tokens, JSON.stringify({ "cert:CN=automation": { actor: "automation", role: "write" } }));
    server = await startTestServer({
      backend: "sqlite",
      env: { TLS_CERT_FILE: pki.server.cert, TLS_KEY_FILE: pki.server.key, TLS_CA_FILE: pki.ca, AUTH_TOKENS_FILE: tokens },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** The certificate and its key in one PEM file, as Python's `cert=` and `cm --cert` also take them. */
  const both = join(pki.dir, "automation-both.pem");
  beforeAll(() => writeFileSync(both, readFileSync(automation.cert, "utf8") + readFileSync(automation.key, "utf8")));

  it("the Python client speaks https with ca_file and cert (a pair, or one PEM file with both); without a certificate it is refused", async () => {
    const script = `
import json, sys
from codex_manager import CodexManager, UnavailableError
url, ca, cert, key, both = sys.argv[1:]
cm = CodexManager(base_url=url, ca_file=ca, cert=(cert, key))
sid = cm.sessions.create(cwd="/py")["session"]["sessionId"]
cm.session(sid).settings.set(key="from", value="python")
again = CodexManager(base_url=url, ca_file=ca, cert=both)
history = again.session(sid).settings.history()["entries"]
try:
    CodexManager(base_url=url, ca_file=ca, retry_writes=False).session(sid).settings.get()
    refused = None
except UnavailableError as err:
    refused = str(err)
print(json.dumps({"settings": again.session(sid).settings.get()["settings"], "actor": history[0]["actor"], "refused": refused}))
`;
    const r = await run("python3", ["-c", script, server.url, pki.ca, automation.cert, automation.key, both], { ...process.env, PYTHONPATH: resolve(import.meta.dirname, "..", "clients", "python") });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.settings).toEqual({ from: "python" });
    expect(out.actor).toBe("automation");
    expect(out.refused).toMatch(/certificate|alert|reset|EOF|closed/i);
  }, 60_000);

  it("cm speaks https with --ca-file, --cert and --cert-key (or a --cert file that holds the key); without a certificate it is refused", async () => {
    const tlsArgs = ["--base-url", server.url, "--ca-file", pki.ca, "--cert", automation.cert, "--cert-key", automation.key];
    const created = await run(process.execPath, [CM, ...tlsArgs, "--json", "sessions", "create", "--cwd", "/cli"]);
    expect(created.code, created.stderr).toBe(0);
    const sessionId = JSON.parse(created.stdout).session.sessionId as string;
    const set = await run(process.execPath, [CM, ...tlsArgs, "sessions", "settings", "set", "--session-id", sessionId, "--key", "from", "--value", '"cli"']);
    expect(set.code, set.stderr).toBe(0);
    const got = await run(process.execPath, [CM, "--base-url", server.url, "--ca-file", pki.ca, "--cert", both, "--json", "sessions", "settings", "get", "--session-id", sessionId]);
    expect(JSON.parse(got.stdout).settings).toEqual({ from: "cli" });
    const noCert = await run(process.execPath, [CM, "--base-url", server.url, "--ca-file", pki.ca, "sessions", "list"]);
    expect(noCert.code, noCert.stderr).toBe(1);
    expect(noCert.stderr).toMatch(/certificate required/);
    const keyAlone = await run(process.execPath, [CM, "--base-url", server.url, "--cert-key", automation.key, "sessions", "list"]);
    expect(keyAlone.code).toBe(2);
    expect(keyAlone.stderr).toContain("--cert-key needs --cert");
  }, 60_000);
});

describe("the panel in Chromium over https", () => {
  let browser: Browser;
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ backend: "sqlite", env: { TLS_CERT_FILE: pki.server.cert, TLS_KEY_FILE: pki.server.key } });
    // Chromium trusts its own certificate store, not a file; rather than skip verification
    // (--ignore-certificate-errors), it is told to accept this one server key only: a
    // certificate with any other key still fails.
    const spki = createHash("sha256").update(new X509Certificate(readFileSync(pki.server.cert)).publicKey.export({ type: "spki", format: "der" })).digest("base64");
    browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("creates a session, goes live over Connect-Web and shows a change made elsewhere", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.getByLabel("Working directory").fill("/srv/tls");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/sessions\/[0-9a-f-]{36}$/);
    const sessionId = decodeURIComponent(page.url().split("/sessions/")[1]!);
    await page.getByText("● Live").waitFor();
    const sdk = createSettingsSdk(createSettingsTransport({ baseUrl: server.url, tls: { ca: readFileSync(pki.ca) } }));
    await sdk.session(sessionId).settings.set("fromSdk", "over TLS");
    await page.getByTestId("value-fromSdk").waitFor();
    expect(new URL(page.url()).protocol).toBe("https:");
    await shot(page, "panel-https");
    await page.close();
  }, 60_000);
});

describe("the compiled server takes new certificates on SIGHUP", () => {
  it("reloads on SIGHUP: new connections get the new certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cm-tls-main-"));
    copyFileSync(pki.server.cert, join(dir, "server.crt"));
    copyFileSync(pki.server.key, join(dir, "server.key"));
    const main = startMain({ TLS_CERT_FILE: join(dir, "server.crt"), TLS_KEY_FILE: join(dir, "server.key") });
    try {
      const listening = await main.line(/"listening"/);
      expect(listening.address).toMatch(/^https:/);
      expect(listening.tls).toBe("on");
      const port = Number(new URL(listening.address).port);
      const serial = () => new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: readFileSync(pki.ca), servername: "localhost" }, () => {
          resolve(socket.getPeerCertificate().serialNumber);
          socket.end();
        });
        socket.on("error", reject);
      });
      expect(await serial()).toBe(new X509Certificate(readFileSync(pki.server.cert)).serialNumber);
      const renewed = pki.issue(`main-${randomUUID().slice(0, 8)}`, "/CN=localhost", "IP:127.0.0.1,DNS:localhost");
      writeFileSync(join(dir, "server.key"), readFileSync(renewed.key));
      writeFileSync(join(dir, "server.crt"), readFileSync(renewed.cert));
      main.child.kill("SIGHUP");
      await main.line(/"trigger":"SIGHUP".*TLS certificates reloaded/);
      await until(async () => (await serial()) === new X509Certificate(readFileSync(renewed.cert)).serialNumber, "the renewed certificate");
      expect(main.child.exitCode).toBe(null);
    } finally {
      main.child.kill("SIGTERM");
      await main.exited;
    }
  }, 60_000);
});
