// HTTP/2 by hand (RFC 9113, HPACK RFC 7541), for what a polite client
// library never sends: frames of any type, length and flags, resets with any
// code, header blocks that expand. Header blocks are written as HPACK
// literals without Huffman coding, plus references to the dynamic table.
import net from "node:net";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
/** RFC 9113 §7: NO_ERROR (0) to HTTP_1_1_REQUIRED (13). */
export const ERROR_CODES = Array.from({ length: 14 }, (_, i) => i);
export const ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export const settings = (values: [id: number, value: number][] = []): Buffer =>
  frame(FRAME.SETTINGS, 0, 0, Buffer.concat(values.map(([id, v]) => Buffer.concat([Buffer.from([id >> 8, id & 0xff]), u32(v)]))));
export const SETTINGS_ACK = frame(FRAME.SETTINGS, FLAG.ACK, 0);
export const rstStream = (stream: number, code: number): Buffer => frame(FRAME.RST_STREAM, 0, stream, u32(code));
export const windowUpdate = (stream: number, increment: number): Buffer => frame(FRAME.WINDOW_UPDATE, 0, stream, u32(increment));
export const ping = (data = Buffer.alloc(8)): Buffer => frame(FRAME.PING, 0, 0, data);

/** An HPACK integer with an N-bit prefix, the prefix's other bits set to `high`. */
function integer(n: number, prefixBits: number, high: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (n < max) return Buffer.from([high | n]);
  const out = [high | max];
  for (n -= max; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  out.push(n);
  return Buffer.from(out);
}

const text = (s: string) => Buffer.concat([integer(Buffer.byteLength(s), 7, 0), Buffer.from(s)]);

/** A header field as a literal with a literal name, not indexed (or, with `index`, added to the dynamic table). */
export function literal(name: string, value: string, index = false): Buffer {
  return Buffer.concat([Buffer.from([index ? 0x40 : 0x00]), text(name), text(value)]);
}

/** A reference to entry `i` of the static (1–61) or dynamic (62–) table. */
export const indexed = (i: number): Buffer => integer(i, 7, 0x80);

/** A header block of literals. */
export function block(headers: Record<string, string | number>): Buffer {
  return Buffer.concat(Object.entries(headers).map(([k, v]) => literal(k, String(v))));
}

/**
 * A small block that decodes to about `copies` times `valueBytes`: one big
 * field added to the dynamic table, then referenced `copies` times (one byte each).
 */
export function expandingBlock(request: Record<string, string | number>, valueBytes: number, copies: number): Buffer {
  return Buffer.concat([block(request), literal("x-big", "v".repeat(valueBytes), true), ...Array.from({ length: copies }, () => indexed(62))]);
}

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** The status of a response HEADERS frame when the server coded it as a static-table entry (Node does for these). */
export function statusOf(f: Frame): number | undefined {
  const STATIC: Record<number, number> = { 0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500 };
  const padded = f.flags & FLAG.PADDED ? 1 : 0;
  const priority = f.flags & FLAG.PRIORITY ? 5 : 0;
  return STATIC[f.payload[padded + priority]!];
}

/** A raw HTTP/2 client connection that records every frame the server sends. */
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 9) {
        const length = this.pending.readUIntBE(0, 3);
        if (this.pending.length < 9 + length) break;
        this.frames.push({ type: this.pending[3]!, flags: this.pending[4]!, stream: this.pending.readUInt32BE(5) & 0x7fffffff, payload: this.pending.subarray(9, 9 + length) });
        this.pending = this.pending.subarray(9 + length);
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  /** Connects; with `preface`, sends the preface and empty SETTINGS at once. */
  static async open(port: number, preface = true): Promise<RawH2> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const c = new RawH2(socket);
    if (preface) c.send(PREFACE, settings());
    return c;
  }

  send(...bytes: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bytes));
  }

  /** Waits until a frame matches (answering it), or the connection closes or `timeoutMs` passes (undefined). */
  async waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found || this.closed || Date.now() >= deadline) return found;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    }
  }

  /** Sends a PING and waits for its ACK: every frame sent before it has been read by the server. */
  async roundTrip(timeoutMs = 10_000): Promise<boolean> {
    const data = Buffer.from(Math.random().toString(16).slice(2, 10).padEnd(8, "0"));
    this.send(ping(data));
    const ack = await this.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0 && f.payload.equals(data), timeoutMs);
    return ack !== undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
