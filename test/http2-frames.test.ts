// Hand-made HTTP/2 frames against the compiled server (a child process, so
// that a crash is seen as one): inputs that once ended the process with one
// packet, header blocks that expand past the bound, and the server's own
// resets, which must not count against the client.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthz } from "./support/abuse/probe.js";
import { ERROR, ERROR_CODES, FLAG, FRAME, RawH2, block, expandingBlock, frame, rstStream, statusOf, u32, windowUpdate } from "./support/h2-frames.js";
import { startMain } from "./support/process.js";

const GET_SETTINGS = "/codexmanager.settings.v1.SettingsService/GetSettings";

/** Request headers for each path a stream can take: health, REST, the fast paths and connect-node. */
const PATHS: Record<string, Record<string, string>> = {
  "GET /healthz": { ":method": "GET", ":path": "/healthz" },
  "POST /healthz": { ":method": "POST", ":path": "/healthz" },
  REST: { ":method": "POST", ":path": "/api/sessions", "content-type": "application/json" },
  "gRPC (fast path)": { ":method": "POST", ":path": GET_SETTINGS, "content-type": "application/grpc", te: "trailers" },
  "gRPC JSON (connect-node)": { ":method": "POST", ":path": GET_SETTINGS, "content-type": "application/grpc+json", te: "trailers" },
  "Connect unary": { ":method": "POST", ":path": GET_SETTINGS, "content-type": "application/json" },
  "Connect gzip (connect-node)": { ":method": "POST", ":path": GET_SETTINGS, "content-type": "application/json", "content-encoding": "gzip" },
  "the web panel": { ":method": "GET", ":path": "/" },
};

const request = (headers: Record<string, string>, extra: Record<string, string> = {}) =>
  block({ ":scheme": "http", ":authority": "127.0.0.1", ...headers, ...extra });

/** Inputs that each once ended the process, sent in one write on a fresh connection. */
const PACKETS: Record<string, (headers: Record<string, string>) => Buffer[]> = {
  ...Object.fromEntries(
    ERROR_CODES.map((code) => [`HEADERS and RST_STREAM(${code})`, (h: Record<string, string>) => [frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, request(h)), rstStream(1, code)]]),
  ),
  "a content-length the DATA does not match": (h) => [
    frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, request(h, { "content-length": "10" })),
    frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from("x")),
  ],
  "HEADERS and a WINDOW_UPDATE of 0": (h) => [frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, request(h)), windowUpdate(1, 0)],
};

let main: ReturnType<typeof startMain>;
let port: number;
beforeAll(async () => {
  main = startMain({});
  port = Number(new URL((await main.line(/"msg":"listening"/)).address).port);
});
afterAll(async () => {
  main?.child.kill("SIGKILL");
  await main?.exited;
});

/** The server process is running and answers /healthz. */
async function alive(): Promise<void> {
  expect(await healthz(port)).toBeGreaterThan(0);
  expect(main.child.exitCode, main.output().stderr).toBeNull();
}

describe("one packet", () => {
  it.each(Object.keys(PACKETS))("%s, on every path, costs its stream and never the process", async (name) => {
    for (const [path, headers] of Object.entries(PATHS)) {
      const c = await RawH2.open(port);
      try {
        c.send(...PACKETS[name]!(headers));
        // The PING comes back once the server has read the packet (or the connection is closed).
        await c.roundTrip();
      } finally {
        c.destroy();
      }
      await alive().catch((err: Error) => {
        throw new Error(`${name} on ${path}: ${err.message}`);
      });
    }
  });
});

describe("a GOAWAY with an error code, while requests are still arriving", () => {
  // Found by h2-fuzz.test.ts: Node destroyed the session inside its receive loop, and aborted the
  // process (current_nghttp2_memory_ == 0) when the session was collected, seconds later.
  it("costs the connection and never the process, however often", async () => {
    const waiting = frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, request(PATHS["gRPC (fast path)"]!));
    const contradicted = frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 5, request(PATHS["GET /healthz"]!, { "content-length": "14" }));
    const goaway = frame(FRAME.GOAWAY, 0, 0, Buffer.concat([u32(2), u32(3)]));
    for (let round = 0; round < 150; round++) {
      await Promise.all(Array.from({ length: 8 }, async () => {
        const c = await RawH2.open(port);
        try {
          c.send(waiting);
          await c.roundTrip();
          c.send(contradicted, goaway);
          await c.waitFor(() => false, 1000);
        } finally {
          c.destroy();
        }
      }));
      if (main.child.exitCode !== null) break;
    }
    await alive();
  }, 120_000);
});

describe("rapid reset", () => {
  const restRead = request({ ":method": "GET", ":path": "/api/sessions/rapid/settings" });
  /** Sends `pairs` of HEADERS and RST_STREAM(CANCEL) in batches of 50; answers the GOAWAY's code, if any. */
  const resetStorm = async (c: RawH2, pairs: number, headersFlags: number) => {
    for (let id = 1; id < 2 * pairs && !c.closed; ) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 50; i++, id += 2) batch.push(frame(FRAME.HEADERS, headersFlags, id, restRead), rstStream(id, ERROR.CANCEL));
      c.send(...batch);
      await c.roundTrip();
    }
    return (await c.waitFor((f) => f.type === FRAME.GOAWAY, 1000))?.payload.readUInt32BE(4);
  };

  it("is counted on a path that answers at once (REST): the client's request was never finished", async () => {
    const c = await RawH2.open(port);
    try {
      expect(await resetStorm(c, 400, FLAG.END_HEADERS)).toBe(ERROR.ENHANCE_YOUR_CALM);
    } finally {
      c.destroy();
    }
  });

  it("is not counted for calls the client finished asking and then cancelled (a watch, a read)", async () => {
    const c = await RawH2.open(port);
    try {
      expect(await resetStorm(c, 400, FLAG.END_HEADERS | FLAG.END_STREAM)).toBeUndefined();
    } finally {
      c.destroy();
    }
  });
});

describe("header blocks that expand", () => {
  const health = { ":method": "GET", ":path": "/healthz", ":scheme": "http", ":authority": "127.0.0.1" };
  /** 4 KB on the wire, about 400 KiB decoded: one 4,000-byte field, then 100 references to it. */
  const bomb = () => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, expandingBlock(health, 4000, 100));
  const answered = (c: RawH2, stream: number) => c.waitFor((f) => f.stream === stream && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM) || f.type === FRAME.GOAWAY);

  it("answers a block within the bound (12 KiB decoded)", async () => {
    const c = await RawH2.open(port);
    try {
      c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, expandingBlock(health, 4000, 3)));
      expect(statusOf((await answered(c, 1))!)).toBe(200);
    } finally {
      c.destroy();
    }
  });

  it("resets a stream whose block decodes past the bound, once the client has acknowledged SETTINGS, and serves the next", async () => {
    const c = await RawH2.open(port);
    try {
      await c.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
      c.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      await c.roundTrip();
      c.send(bomb());
      const first = (await answered(c, 1))!;
      expect([first.type, first.payload.readUInt32BE(0)]).toEqual([FRAME.RST_STREAM, ERROR.ENHANCE_YOUR_CALM]);
      c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, block(health)));
      expect(statusOf((await answered(c, 3))!)).toBe(200);
    } finally {
      c.destroy();
    }
  });

  it("closes such a connection without aborting the process while more of its frames are being read", async () => {
    // Found by h2-fuzz.test.ts: the session was destroyed inside nghttp2's loop over these bytes,
    // which then met a connection error (a GOAWAY on a stream) and aborted the process.
    for (let round = 0; round < 50 && main.child.exitCode === null; round++) {
      await Promise.all(Array.from({ length: 8 }, async () => {
        const c = await RawH2.open(port);
        try {
          c.send(bomb(), frame(FRAME.GOAWAY, 0, 7, Buffer.alloc(5)));
          await c.waitFor(() => false, 2000);
        } finally {
          c.destroy();
        }
      }));
    }
    await alive();
  });

  it("closes a connection that sends such a block before acknowledging SETTINGS, as HTTP/1.1 closes after its 431", async () => {
    const c = await RawH2.open(port);
    try {
      c.send(bomb());
      const first = (await answered(c, 1))!;
      expect(first.type === FRAME.HEADERS, "answered").toBe(false);
      expect(await c.waitFor(() => false)).toBeUndefined();
      expect(c.closed).toBe(true);
    } finally {
      c.destroy();
    }
    await alive();
  });
});
