// Random HTTP/2 frame sequences for the fuzz test, seeded: valid requests on
// every path mixed with every kind of frame a hostile client can send
// (h2spec's categories as the checklist): each frame type with bad lengths,
// flags and stream ids, resets with every error code, WINDOW_UPDATE of 0 and
// of 2^31, SETTINGS out of range, CONTINUATION out of place, unknown types,
// content-lengths that do not match, HPACK blocks that are garbage or that
// expand, and bytes that are not frames at all.
import { ERROR_CODES, FLAG, FRAME, PREFACE, block, expandingBlock, frame, indexed, literal, u32 } from "./h2-frames.js";

/** mulberry32: a small, seeded PRNG, so that a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;
const bytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => int(rng, 256)));

const RPC = "/codexmanager.settings.v1.SettingsService";

/** Requests on every path a stream can take; `sessionId` names one with a map worth reading. */
export function requests(sessionId: string): Record<string, string>[] {
  const base = { ":scheme": "http", ":authority": "127.0.0.1" };
  const rpc = (type: string, extra: Record<string, string> = {}) => ({ ...base, ":method": "POST", ":path": `${RPC}/GetSettings`, "content-type": type, te: "trailers", ...extra });
  return [
    { ...base, ":method": "GET", ":path": "/healthz" },
    { ...base, ":method": "POST", ":path": "/healthz", "content-length": "4" },
    { ...base, ":method": "GET", ":path": `/api/sessions/${sessionId}/settings` },
    { ...base, ":method": "GET", ":path": `/api/sessions/${sessionId}/settings/events` },
    { ...base, ":method": "POST", ":path": "/api/sessions", "content-type": "application/json" },
    { ...base, ":method": "GET", ":path": "/" },
    rpc("application/grpc"),
    rpc("application/grpc+json"),
    rpc("application/grpc", { "grpc-encoding": "gzip" }),
    rpc("application/json"),
    rpc("application/json", { "content-encoding": "gzip" }),
    rpc("application/grpc-web+proto"),
    { ...base, ":method": "POST", ":path": `${RPC}/WatchSettings`, "content-type": "application/connect+json", "connect-protocol-version": "1" },
  ];
}

/** A body for a request: a real message for its wire, or junk. */
function body(rng: Rng, headers: Record<string, string>, sessionId: string): Buffer {
  if (rng() < 0.2) return bytes(rng, int(rng, 64));
  const type = headers["content-type"] ?? "";
  const json = Buffer.from(JSON.stringify(headers[":path"] === "/api/sessions" ? {} : { sessionId }));
  if (type === "application/json") return json;
  const payload = type.includes("json") ? json : Buffer.concat([Buffer.from([0x0a, sessionId.length]), Buffer.from(sessionId)]);
  return Buffer.concat([Buffer.from([0]), u32(payload.length), payload]);
}

interface Conn {
  /** The next client stream id (odd, rising). */
  next: number;
  open: number[];
}

const stream = (rng: Rng, c: Conn) => (rng() < 0.8 && c.open.length > 0 ? pick(rng, c.open) : pick(rng, [0, c.next, c.next + 2, 2, 0x7fffffff, int(rng, 2 ** 31)]));

/** A request on a new stream, usually valid: headers, maybe a body, maybe a content-length that does not match it. */
function request(rng: Rng, c: Conn, sessionId: string, valid = false): Buffer {
  const id = c.next;
  c.next += 2;
  c.open.push(id);
  const headers = { ...pick(rng, requests(sessionId)) };
  const data = body(rng, headers, sessionId);
  if (!valid && rng() < 0.2) headers["content-length"] = String(data.length + pick(rng, [-1, 1, 1000, 2 ** 32]));
  const end = headers[":method"] === "GET";
  const head = frame(FRAME.HEADERS, FLAG.END_HEADERS | (end ? FLAG.END_STREAM : 0), id, block(headers));
  return end ? head : Buffer.concat([head, frame(FRAME.DATA, valid || rng() < 0.8 ? FLAG.END_STREAM : 0, id, data)]);
}

/** One frame (or a few) of a random kind. */
function randomFrame(rng: Rng, c: Conn, sessionId: string): Buffer {
  const paths = requests(sessionId);
  switch (int(rng, 16)) {
    case 0:
    case 1:
    case 2:
      return request(rng, c, sessionId);
    case 3:
      return frame(FRAME.DATA, int(rng, 256), stream(rng, c), rng() < 0.3 ? Buffer.concat([Buffer.from([200]), bytes(rng, 10)]) : bytes(rng, int(rng, 100)));
    case 4: {
      // Header blocks that are garbage, that expand, that change the table size, or that break the rules.
      const id = c.next;
      c.next += 2;
      const h = pick(rng, paths);
      const blocks = [
        bytes(rng, int(rng, 200)),
        expandingBlock(h, 4000, int(rng, 120)),
        Buffer.concat([Buffer.from([0x3f, 0xe1, 0xff, 0xff, 0x0f]), block(h)]),
        Buffer.concat([block(h), literal("Upper-Case", "x")]),
        Buffer.concat([block(h), literal("connection", "keep-alive")]),
        block({ ":path": "/healthz" }),
        Buffer.concat([block(h), indexed(120)]),
        Buffer.concat([block(h), literal("x-long", "v".repeat(20_000))]).subarray(0, 16_000),
      ];
      return frame(FRAME.HEADERS, FLAG.END_HEADERS | (rng() < 0.5 ? FLAG.END_STREAM : 0) | (rng() < 0.2 ? FLAG.PRIORITY : 0), rng() < 0.9 ? id : stream(rng, c), pick(rng, blocks));
    }
    case 5:
      return frame(FRAME.PRIORITY, 0, stream(rng, c), rng() < 0.7 ? Buffer.concat([u32(c.next), Buffer.from([int(rng, 256)])]) : bytes(rng, int(rng, 10)));
    case 6:
      return frame(FRAME.RST_STREAM, 0, stream(rng, c), rng() < 0.9 ? u32(rng() < 0.8 ? pick(rng, ERROR_CODES) : int(rng, 2 ** 32)) : bytes(rng, int(rng, 8)));
    case 7: {
      // SETTINGS in and out of range, ACKs with payloads, odd lengths.
      const values = Array.from({ length: int(rng, 4) }, () =>
        Buffer.concat([Buffer.from([0, int(rng, 8)]), u32(pick(rng, [0, 1, 2, 16_383, 16_384, 65_535, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, int(rng, 2 ** 32)]))]));
      const payload = rng() < 0.9 ? Buffer.concat(values) : bytes(rng, int(rng, 13));
      return frame(FRAME.SETTINGS, rng() < 0.15 ? FLAG.ACK : 0, rng() < 0.9 ? 0 : stream(rng, c), payload);
    }
    case 8:
      return frame(FRAME.PUSH_PROMISE, FLAG.END_HEADERS, stream(rng, c), Buffer.concat([u32(c.next + 1), block(pick(rng, paths))]));
    case 9:
      return frame(FRAME.PING, rng() < 0.2 ? FLAG.ACK : 0, rng() < 0.9 ? 0 : stream(rng, c), bytes(rng, rng() < 0.85 ? 8 : int(rng, 16)));
    case 10:
      return frame(FRAME.GOAWAY, 0, rng() < 0.9 ? 0 : stream(rng, c), rng() < 0.8 ? Buffer.concat([u32(int(rng, c.next)), u32(pick(rng, ERROR_CODES)), bytes(rng, int(rng, 20))]) : bytes(rng, int(rng, 7)));
    case 11:
      return frame(FRAME.WINDOW_UPDATE, 0, rng() < 0.5 ? 0 : stream(rng, c), rng() < 0.9 ? u32(pick(rng, [0, 1, 65_535, 2 ** 31 - 1, 2 ** 31, int(rng, 2 ** 31)])) : bytes(rng, int(rng, 8)));
    case 12: {
      // CONTINUATION: after HEADERS without END_HEADERS (a valid split), alone, or as a flood.
      const id = c.next;
      c.next += 2;
      const whole = block(pick(rng, paths));
      const cut = int(rng, whole.length);
      const parts = [frame(FRAME.HEADERS, FLAG.END_STREAM, id, whole.subarray(0, cut))];
      const more = rng() < 0.8 ? 1 : int(rng, 50);
      for (let i = 0; i < more; i++) parts.push(frame(FRAME.CONTINUATION, i === more - 1 && rng() < 0.8 ? FLAG.END_HEADERS : 0, rng() < 0.9 ? id : stream(rng, c), i === 0 ? whole.subarray(cut) : bytes(rng, int(rng, 30))));
      if (rng() < 0.2) parts.splice(1, 0, frame(FRAME.PING, 0, 0, Buffer.alloc(8)));
      return Buffer.concat(rng() < 0.1 ? parts.slice(1) : parts);
    }
    case 13:
      // Types HTTP/2 does not define: to be ignored.
      return frame(10 + int(rng, 246), int(rng, 256), stream(rng, c), bytes(rng, int(rng, 50)));
    case 14:
      // Past SETTINGS_MAX_FRAME_SIZE, or a length that does not match what follows.
      return rng() < 0.5 ? frame(FRAME.DATA, 0, stream(rng, c), Buffer.alloc(16_385 + int(rng, 1000))) : Buffer.concat([frame(pick(rng, [0, 1, 3, 4, 6, 8]), 0, stream(rng, c), bytes(rng, 20)).subarray(0, 9 + int(rng, 20))]);
    default:
      return bytes(rng, int(rng, 40));
  }
}

/** What one fuzzing connection sends, as the writes it makes. */
export function connectionScript(rng: Rng, sessionId: string): Buffer[] {
  const c: Conn = { next: 1, open: [] };
  const parts: Buffer[] = [];
  // Almost always the preface; now and then a truncated one or none.
  parts.push(rng() < 0.95 ? PREFACE : PREFACE.subarray(0, int(rng, PREFACE.length)));
  if (rng() < 0.9) parts.push(frame(FRAME.SETTINGS, 0, 0, rng() < 0.3 ? Buffer.concat([Buffer.from([0, 4]), u32(pick(rng, [0, 1, 1024, 65_535]))]) : Buffer.alloc(0)));
  if (rng() < 0.5) parts.push(frame(FRAME.SETTINGS, FLAG.ACK, 0));
  // A few valid requests first, in the first write (most random frames end the connection) ...
  for (let i = int(rng, 5); i > 0; i--) parts.push(request(rng, c, sessionId, true));
  const writes: Buffer[] = [Buffer.concat(parts)];
  // ... then anything, in one write or a few.
  const count = 1 + int(rng, 30);
  for (let i = 0; i < count; i++) {
    const p = randomFrame(rng, c, sessionId);
    if (writes.length === 1 || rng() < 0.2) writes.push(p);
    else writes[writes.length - 1] = Buffer.concat([writes[writes.length - 1]!, p]);
  }
  return writes;
}
