// The HTTP layer's bounds on what one client holds, case by case: a body
// declared too large, pipelined requests, the connection cap, the server's
// own resets (never the client's to answer for), and a slow reader, whose
// stall is measured from its last progress.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/observe/log.js";
import { ERROR, FLAG, FRAME, RawH2, block, frame } from "./support/h2-frames.js";
import { RawConnection } from "./support/raw-http.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { newId } from "./support/watch-suite.js";

const SETTINGS_SERVICE = "/codexmanager.settings.v1.SettingsService";
const TIMEOUT_MS = 1000;

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    backend: "memory",
    env: {
      HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
      HTTP_WRITE_STALL_MS: String(TIMEOUT_MS),
      HTTP2_MAX_RESETS_PER_SECOND: "5",
      WATCH_BACKLOG_EVENTS: "5",
      HISTORY_LIMIT: "200",
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe("a body declared too large", () => {
  it("is refused at once on a Connect call over HTTP/1.1 (4 GiB declared, nothing sent), as REST does, and the connection closed", async () => {
    const conn = await RawConnection.open(server.port);
    try {
      await conn.send("POST", `${SETTINGS_SERVICE}/GetSettings`, undefined, { "content-type": "application/json", "content-length": String(4 * 1024 ** 3) });
      // Before the request timeout could answer 408: the refusal does not wait for the body.
      const res = await conn.read(TIMEOUT_MS / 2);
      expect(res.status).toBe(429); // Connect's HTTP status for resource_exhausted
      expect(res.headers.connection).toBe("close");
    } finally {
      conn.destroy();
    }
  });
});

describe("pipelined HTTP/1.1 requests", () => {
  /** Sends `count` GET /healthz in one write; answers how many were answered 200 and whether the server closed. */
  const pipeline = (count: number) =>
    new Promise<{ answered: number; closed: boolean }>((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1");
      let text = "";
      const done = (closed: boolean) => {
        socket.destroy();
        resolve({ answered: text.split("HTTP/1.1 200").length - 1, closed });
      };
      socket.on("error", () => {});
      socket.on("data", (d) => {
        text += d.toString("latin1");
        if (text.split("HTTP/1.1 200").length - 1 === count) done(false);
      });
      socket.once("close", () => done(true));
      socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".repeat(count));
    });

  it("are answered up to 16 in flight; a connection that sends more at once is closed, and the server serves others", async () => {
    expect(await pipeline(16)).toEqual({ answered: 16, closed: false });
    expect((await pipeline(64)).closed).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("the server's own resets", () => {
  it("do not count toward the client's HTTP2_MAX_RESETS_PER_SECOND: 20 requests timed out at once leave the connection open", async () => {
    const c = await RawH2.open(server.port);
    try {
      const request = block({ ":method": "POST", ":scheme": "http", ":authority": "127.0.0.1", ":path": `${SETTINGS_SERVICE}/GetSettings`, "content-type": "application/grpc", te: "trailers" });
      // Twenty calls whose bodies never come, all sent at once: the server resets them together.
      c.send(...Array.from({ length: 20 }, (_, i) => frame(FRAME.HEADERS, FLAG.END_HEADERS, 1 + 2 * i, request)));
      await c.waitFor(() => c.frames.filter((f) => f.type === FRAME.RST_STREAM).length === 20, TIMEOUT_MS * 10);
      expect(c.frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => f.payload.readUInt32BE(0))).toEqual(Array(20).fill(ERROR.CANCEL));
      expect(c.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(false);
      expect(await c.roundTrip()).toBe(true);
    } finally {
      c.destroy();
    }
  });
});

describe("a watcher cut off for its backlog, whose client keeps reading slowly", () => {
  it("gets every byte up to the end of the stream and its reason, though that takes longer than HTTP_WRITE_STALL_MS after the end", async () => {
    const sessionId = newId();
    const c = server.clients();
    await c.sessions.createSession({ sessionId });
    // SSE over a bare socket, so that the test decides when it reads.
    const socket = net.connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.write(`GET /api/sessions/${sessionId}/settings/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    await until(() => text.includes("event: created"), "created");
    socket.pause();
    // 60 changes of 64 KiB, as in the case: past the backlog (5) the stream ends, while
    // megabytes still wait in the kernel's buffers and the end in the server's.
    for (let i = 0; i < 60; i++) await c.settings.setSettings({ sessionId, update: { case: "entry", value: { key: "k", value: { kind: { case: "stringValue", value: `${i}${"x".repeat(64 * 1024)}` } } } } });
    // The client takes about 1 MB/s: the rest takes seconds, and progress is steady.
    const started = Date.now();
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.removeAllListeners("data");
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      socket.pause();
      setTimeout(() => socket.resume(), d.length / 1000);
    });
    socket.resume();
    await Promise.race([closed, until(() => /event: error\ndata: [^\n]*\n\n/.test(text), "the end", 60_000)]);
    socket.destroy();
    // The last event (chunked: one write, one chunk) is the error that says why.
    const events = [...text.matchAll(/event: (\w+)\ndata: ([^\n]*)\n\n/g)];
    expect(events.at(-1)![1]).toBe("error");
    expect(JSON.parse(events.at(-1)![2]!)).toMatchObject({ code: "watch_backlog" });
    expect(Date.now() - started).toBeGreaterThan(TIMEOUT_MS);
  });
});

describe("at HTTP_MAX_CONNECTIONS", () => {
  it("closes the oldest idle connection to make room, and says so in the abuse summary", async () => {
    const lines: Record<string, any>[] = [];
    const capped = await startTestServer({
      backend: "memory",
      env: { HTTP_MAX_CONNECTIONS: "16" },
      log: createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) }),
    });
    const sockets: RawConnection[] = [];
    try {
      const closed: number[] = [];
      for (let i = 0; i < 17; i++) {
        const c = await RawConnection.open(capped.port);
        sockets.push(c);
        void c.waitClosed(60_000).then((yes) => yes && closed.push(i));
        // Answered, so accepted (in this order) and idle, kept alive.
        await c.send("GET", "/healthz");
        expect((await c.read()).status).toBe(200);
      }
      await until(() => closed.length > 0, "a connection closed to make room");
      expect(closed).toEqual([0]);
      // The summary comes once per 10 s window.
      await until(() => lines.some((l) => l.idleClosedAtCap !== undefined), "the abuse summary", 30_000);
      expect(lines.find((l) => l.idleClosedAtCap !== undefined)).toMatchObject({ idleClosedAtCap: 1, msg: "connections closed or refused to protect the server" });
    } finally {
      sockets.forEach((s) => s.destroy());
      await capped.close();
    }
  }, 60_000);
});
