// TLS on the one port, with certificates the test makes itself (openssl):
// every protocol over TLS (gRPC and Connect on h2 through the SDK's
// transports, gRPC-Web and Connect on HTTP/1.1, REST, SSE, /metrics, the
// panel's files and health, with curl --http1.1 and --http2, and
// @grpc/grpc-js), mutual TLS with callers known by their certificate,
// refusals in the handshake, and certificates replaced without a restart.
import { execFile, spawn } from "node:child_process";
import { randomUUID, X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSettingsSdk, SettingsError, type SettingsSdk } from "../src/client/index.js";
import { createSettingsTransport, type SettingsTransportOptions, type TlsClientOptions } from "../src/client/node.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { makePki, type Issued } from "./support/certs.js";
import { grpcHealth, Status } from "./support/grpc-health.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { until } from "./support/until.js";

const pki = makePki();
const automation = pki.issue("automation", "/CN=automation", "URI:spiffe://cm-test/automation");
const reporter = pki.issue("reporter", "/CN=reporter");
const stranger = pki.issue("stranger", "/CN=stranger");
/** The same names as `automation`, signed by a CA the server does not trust. */
const forged = pki.issue("forged", "/CN=automation", "URI:spiffe://cm-test/automation", pki.otherCa());
const TOKEN = `tls-token-${randomUUID()}`;

const tlsOf = (client?: Issued, ca = pki.ca): TlsClientOptions => ({
  ca: readFileSync(ca),
  ...(client && { cert: readFileSync(client.cert), key: readFileSync(client.key) }),
});

const TRANSPORTS: Pick<SettingsTransportOptions, "protocol" | "httpVersion">[] = [
  { protocol: "grpc" },
  { protocol: "connect", httpVersion: "2" },
  { protocol: "connect", httpVersion: "1.1" },
  { protocol: "grpc-web", httpVersion: "1.1" },
];

function sdkFor(server: TestServer, transport: (typeof TRANSPORTS)[number], tlsOptions: TlsClientOptions, headers: Record<string, string> = {}): SettingsSdk {
  return createSettingsSdk(createSettingsTransport({
    baseUrl: server.url,
    ...transport,
    tls: tlsOptions,
    interceptors: [(next) => (req) => {
      for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
      return next(req);
    }],
  }));
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** curl, never throwing: its exit code says how it ended. */
function curl(...args: string[]): Promise<Run> {
  return new Promise((resolve) =>
    execFile("curl", ["-sS", "--max-time", "20", ...args], (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
  );
}

/** curl -N on an event stream, until `pattern` has arrived; then it is stopped. */
function curlStream(pattern: RegExp, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", ["-sS", "-N", "--max-time", "20", ...args]);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (pattern.test(out)) {
        child.kill();
        resolve(out);
      }
    });
    child.on("exit", () => reject(new Error(`the stream ended without ${pattern}: ${out}`)));
  });
}

/** The serial number of the certificate a new TLS connection to `server` is shown. */
function servedSerial(server: TestServer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: server.port, ca: readFileSync(pki.ca), ALPNProtocols: ["http/1.1"] }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on("error", reject);
  });
}

const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;

describe("mutual TLS on the one port (client certificates required)", () => {
  let server: TestServer;
  const curlAs = (client: Issued) => ["--cacert", pki.ca, "--cert", client.cert, "--key", client.key];
  beforeAll(async () => {
    const tokens = join(mkdtempSync(join(tmpdir(), "cm-tls-")), "tokens.json");
    writeFileSync(tokens, JSON.stringify({
      "cert:URI:spiffe://cm-test/automation": { actor: "automation", role: "write" },
      "cert:CN=reporter": { actor: "reporter", role: "read" },
      [TOKEN]: { actor: "token-holder", role: "write" },
    }));
    server = await startTestServer({
      backend: "sqlite",
      env: { TLS_CERT_FILE: pki.server.cert, TLS_KEY_FILE: pki.server.key, TLS_CA_FILE: pki.ca, TLS_CLIENT_AUTH: "require", AUTH_TOKENS_FILE: tokens },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves gRPC, Connect (h2 and HTTP/1.1) and gRPC-Web, and knows the caller by its certificate", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (const transport of TRANSPORTS) {
      const what = `${transport.protocol} ${transport.httpVersion ?? "2"}`;
      const sdk = sdkFor(server, transport, tlsOf(automation));
      const { session } = await sdk.sessions.create({ cwd: "/tls" });
      const chat = sdk.session(session.sessionId);
      await chat.settings.set("over", what, { actor: "someone-else" });
      expect((await chat.settings.get()).settings, what).toEqual({ over: what });
      // With authentication on, history records the certificate's actor.
      expect((await chat.settings.history()).entries[0]?.actor, what).toBe("automation");
      // A read-only certificate reads, and may not write.
      const reader = sdkFor(server, transport, tlsOf(reporter)).session(session.sessionId);
      expect((await reader.settings.get()).revision).toBe(1n);
      await expect(reader.settings.set("k", 1)).rejects.toMatchObject({ reason: "PERMISSION_DENIED" });
      // A certificate the CA signed but the tokens file does not map needs a token.
      const unknown = sdkFor(server, transport, tlsOf(stranger));
      await expect(unknown.session(session.sessionId).settings.get()).rejects.toMatchObject({ reason: "UNAUTHENTICATED" });
      const withToken = sdkFor(server, transport, tlsOf(stranger), { authorization: `Bearer ${TOKEN}` });
      await withToken.session(session.sessionId).settings.set("k", 2);
      expect((await chat.settings.history()).entries[0]?.actor).toBe("token-holder");
    }
  });

  it("serves REST, SSE, /metrics, health and the panel to curl over --http1.1 and --http2", async () => {
    for (const version of ["--http1.1", "--http2"]) {
      const as = [version, ...curlAs(automation), "-w", "\n%{http_version} %{http_code}"];
      const created = await curl(...as, "-X", "POST", "-H", "content-type: application/json", "-d", '{"cwd":"/curl"}', `${server.url}/api/sessions`);
      expect(created.stdout, created.stderr).toMatch(version === "--http2" ? /\n2 200$/ : /\n1\.1 200$/);
      const sessionId = JSON.parse(created.stdout.split("\n")[0]!).session.sessionId as string;
      const events = await curlStream(/event: created/, version, ...curlAs(automation), `${server.url}/api/sessions/${sessionId}/settings/events`);
      expect(events).toContain('data: {"revision":0}');
      expect((await curl(...as, `${server.url}/readyz`)).stdout).toMatch(/"status":"ok".*\n.* 200$/s);
      expect((await curl(...as, `${server.url}/metrics`)).stdout).toContain("settings_calls_total");
      expect((await curl(...as, `${server.url}/`)).stdout).toMatch(/<div id="root">[\s\S]* 200$/);
      const connect = await curl(...as, "-H", "content-type: application/json", "-d", JSON.stringify({ sessionId }),
        `${server.url}/codexmanager.settings.v1.SettingsService/GetSettings`);
      expect(connect.stdout).toMatch(/^\{"settings":\{\}\}\n.* 200$/);
    }
  });

  it("answers grpc.health.v1.Health to grpc-js over TLS", async () => {
    const credentials = grpc.credentials.createSsl(readFileSync(pki.ca), readFileSync(automation.key), readFileSync(automation.cert));
    const health = grpcHealth(`127.0.0.1:${server.port}`, credentials);
    try {
      expect(await health.check()).toBe(Status.SERVING);
    } finally {
      health.close();
    }
  });

  it("refuses, in the handshake, a client without a certificate and one whose certificate another CA signed", async () => {
    // The handshake itself ends with TLS's "certificate required" alert (TLS 1.3 sends it once the
    // client has finished its part), before any HTTP.
    const alert = await new Promise<Error>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port: server.port, ca: readFileSync(pki.ca), ALPNProtocols: ["h2"] });
      socket.on("data", () => resolve(new Error("the server answered")));
      socket.on("error", resolve);
    });
    expect((alert as { code?: string }).code).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    // A certificate another CA signed: the connection is closed as soon as the handshake ends.
    const forgedEnd = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port: server.port, ca: readFileSync(pki.ca), cert: readFileSync(forged.cert), key: readFileSync(forged.key), ALPNProtocols: ["http/1.1"] });
      socket.on("secureConnect", () => socket.write("GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n"));
      socket.on("data", () => resolve("answered"));
      socket.on("error", (err) => resolve(`error ${(err as { code?: string }).code}`));
      socket.on("close", () => resolve("closed"));
    });
    expect(forgedEnd).not.toBe("answered");
    for (const version of ["--http1.1", "--http2"]) {
      // curl fails one way or another (a handshake error, or the connection ending under its first request), with no answer.
      for (const args of [["--cacert", pki.ca], curlAs(forged)]) {
        const refused = await curl(version, ...args, `${server.url}/readyz`);
        expect(refused.code, refused.stderr).not.toBe(0);
        expect(refused.stdout).toBe("");
      }
    }
    for (const transport of TRANSPORTS) {
      await expect(sdkFor(server, transport, tlsOf()).sessions.list()).rejects.toBeInstanceOf(SettingsError);
      await expect(sdkFor(server, transport, tlsOf(forged)).sessions.list()).rejects.toBeInstanceOf(SettingsError);
    }
    const noCert = grpcHealth(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(readFileSync(pki.ca)));
    try {
      await expect(noCert.check()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      noCert.close();
    }
    // The server is none the worse.
    expect((await curl(...curlAs(automation), `${server.url}/readyz`)).code).toBe(0);
  });

  it("fails a client that trusts another CA: the server's certificate does not verify", async () => {
    const wrongCa = await curl(...curlAs(automation), "--cacert", pki.otherCa().cert, `${server.url}/readyz`);
    expect(wrongCa.code).toBe(60); // curl: peer certificate cannot be authenticated with given CA certificates
    const sdk = sdkFor(server, { protocol: "grpc" }, tlsOf(automation, pki.otherCa().cert));
    const err = await sdk.sessions.list().catch((e: SettingsError) => e);
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as SettingsError).message).toMatch(/certificate/i);
  });
});

describe("TLS without client certificates, and certificates replaced while serving", () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    // Copies, so that the test can replace them.
    dir = mkdtempSync(join(tmpdir(), "cm-tls-files-"));
    copyFileSync(pki.server.cert, join(dir, "server.crt"));
    copyFileSync(pki.server.key, join(dir, "server.key"));
    server = await startTestServer({ backend: "memory", env: { TLS_CERT_FILE: join(dir, "server.crt"), TLS_KEY_FILE: join(dir, "server.key") } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves a client with no certificate, over h2 and HTTP/1.1 as ALPN chooses", async () => {
    for (const version of ["--http1.1", "--http2"]) {
      const r = await curl(version, "--cacert", pki.ca, "-w", " %{http_version}", `${server.url}/readyz`);
      expect(r.stdout).toBe(`{"status":"ok","store":"memory"} ${version === "--http2" ? "2" : "1.1"}`);
    }
    // A client that offers no ALPN gets HTTP/1.1.
    const bare = await curl("--no-alpn", "--cacert", pki.ca, "-w", " %{http_version}", `${server.url}/readyz`);
    expect(bare.stdout).toBe('{"status":"ok","store":"memory"} 1.1');
  });

  it("takes new certificate files when they change, for new connections; an open connection keeps its own", async () => {
    const before = await servedSerial(server);
    expect(before).toBe(serialOf(pki.server.cert));
    const open = http2.connect(server.url, { ca: readFileSync(pki.ca) });
    try {
      await new Promise<void>((resolve, reject) => open.once("connect", () => resolve()).once("error", reject));
      const renewed = pki.issue(`server-${randomUUID().slice(0, 8)}`, "/CN=localhost", "IP:127.0.0.1,DNS:localhost");
      writeFileSync(join(dir, "server.key"), readFileSync(renewed.key));
      writeFileSync(join(dir, "server.crt"), readFileSync(renewed.cert));
      await until(async () => (await servedSerial(server)) === serialOf(renewed.cert), "new connections to get the new certificate");
      // The connection opened before still has its session and is still served.
      expect((open.socket as tls.TLSSocket).getPeerCertificate().serialNumber).toBe(before);
      const status = await new Promise<number>((resolve, reject) => {
        const req = open.request({ ":path": "/readyz" });
        req.once("response", (h) => resolve(Number(h[":status"]))).once("error", reject);
        req.resume();
        req.end();
      });
      expect(status).toBe(200);
    } finally {
      open.close();
    }
  });
});

describe("TLS configuration", () => {
  it("names the variable of a setting that is missing or cannot be used", async () => {
    const load = (env: Record<string, string>) => () => loadConfig({ ...env, DATA_DIR: ":memory:" });
    expect(load({ TLS_CERT_FILE: pki.server.cert })).toThrow(/TLS_KEY_FILE/);
    expect(load({ TLS_CA_FILE: pki.ca })).toThrow(/TLS_CERT_FILE/);
    expect(load({ TLS_CERT_FILE: pki.server.cert, TLS_KEY_FILE: pki.server.key, TLS_CLIENT_AUTH: "require" })).toThrow(/TLS_CLIENT_AUTH needs TLS_CA_FILE/);
    expect(load({ TLS_CERT_FILE: pki.server.cert, TLS_KEY_FILE: pki.server.key, TLS_CA_FILE: pki.ca, TLS_CLIENT_AUTH: "sometimes" })).toThrow(/TLS_CLIENT_AUTH/);
    await expect(startTestServer({ backend: "memory", env: { TLS_CERT_FILE: join(pki.dir, "absent.crt"), TLS_KEY_FILE: pki.server.key } }))
      .rejects.toThrow(ConfigError);
    await expect(startTestServer({ backend: "memory", env: { TLS_CERT_FILE: join(pki.dir, "absent.crt"), TLS_KEY_FILE: pki.server.key } }))
      .rejects.toThrow(/TLS_CERT_FILE: cannot read/);
    // A tokens file that maps certificates needs the server to ask for them.
    const tokens = join(mkdtempSync(join(tmpdir(), "cm-tls-")), "tokens.json");
    writeFileSync(tokens, JSON.stringify({ "cert:CN=ci": { actor: "ci", role: "write" } }));
    await expect(startTestServer({ backend: "memory", env: { AUTH_TOKENS_FILE: tokens } })).rejects.toThrow(/TLS_CA_FILE is unset/);
  });
});
