// A minimal HTTP/2 client connection (RFC 9113) for unary gRPC calls with
// prebuilt bodies, on a plain TCP socket: the load generator's transport.
// node:http2's client costs 40-170 µs of CPU per call (an AsyncResource, a
// headers object and a Duplex per request), as much as the servers it should
// saturate; this costs a few µs. What it does not do, because the bench needs
// none of it: TLS, HPACK decoding (the answers' headers are not read, so the
// server may index them as it likes), CONTINUATION of our own headers,
// request bodies larger than one frame or than a stream window.
//   - Requests: one constant header block (static-table indexes and literals
//     without indexing, no Huffman), then one DATA frame with END_STREAM.
//   - Answers: a stream ends at END_STREAM; it failed when it was reset, when
//     its first header block is not ":status: 200" (static index 8), or when
//     that block also ends it (a trailers-only answer, which gRPC servers send
//     for errors). grpc-status itself is not decoded: the driver checks every
//     measured run against the server's own counters.
//   - Flow control: our receive windows are opened wide at once; the send
//     window of the connection is kept, and calls wait for WINDOW_UPDATE.
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const WINDOW_UPDATE = 8;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const MAX_WINDOW = 2 ** 31 - 1;

function frame(type, flags, streamId, payload) {
  const b = Buffer.allocUnsafe(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId, 5);
  payload.copy(b, 9);
  return b;
}

/** An HPACK integer with a `bits`-bit prefix (RFC 7541, 5.1). */
function hpackInt(value, bits) {
  const max = (1 << bits) - 1;
  if (value < max) return [value];
  const out = [max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 127) | 128);
  out.push(value);
  return out;
}

/** A literal header field without indexing (RFC 7541, 6.2.2): a static-table name index, or a new name. */
function literal(nameIndex, name, value) {
  const text = (s) => [...hpackInt(Buffer.byteLength(s, "latin1"), 7), ...Buffer.from(s, "latin1")];
  return Buffer.from(nameIndex ? [...hpackInt(nameIndex, 4), ...text(value)] : [0, ...text(name), ...text(value)]);
}

/** The header block of every request: POST `path` over http, gRPC's headers, and `extra` [name, value] pairs. */
export function requestHeaders(authority, path, extra = []) {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table 3, 6)
    literal(4, "", path),
    literal(1, "", authority),
    literal(31, "", "application/grpc"),
    literal(0, "te", "trailers"),
    ...extra.map(([name, value]) => literal(0, name, value)),
  ]);
}

export class H2Connection {
  /** Calls started and not yet ended. */
  inflight = 0;
  /** False once the connection is gone (closed, GOAWAY): it takes no more calls. */
  open = true;
  #socket;
  #headerBlock;
  #onEnd;
  #nextId = 1;
  /** stream id -> { started, answered }: answered once its first header block came. */
  #streams = new Map();
  #sendWindow = 65_535;
  #received = 0;
  #blocked = [];
  #out = [];
  #flushing = false;
  #pending = null;

  /**
   * Connects, and resolves once the server's SETTINGS arrived. `onEnd(connection, failure, started)` is
   * called for every call that ends: failure undefined for a success, else what went wrong.
   */
  static connect(url, headerBlock, onEnd) {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port), noDelay: true });
      const connection = new H2Connection(socket, headerBlock, onEnd, () => resolve(connection));
      socket.once("error", reject);
    });
  }

  constructor(socket, headerBlock, onEnd, onReady) {
    this.#socket = socket;
    this.#headerBlock = headerBlock;
    this.#onEnd = onEnd;
    this.onReady = onReady;
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH = 0
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE: answers never wait for a window
    settings.writeUInt32BE(MAX_WINDOW, 8);
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), this.#windowUpdate(MAX_WINDOW - 65_535)]));
    socket.on("data", (chunk) => this.#read(chunk));
    socket.on("close", () => this.#fatal("the connection closed"));
    socket.on("error", () => {});
  }

  /** Starts one call with `body` (a gRPC frame); it is written with the others of this tick. */
  call(body) {
    this.inflight++;
    const id = this.#nextId;
    this.#nextId += 2;
    this.#streams.set(id, { started: performance.now(), answered: false });
    if (this.#sendWindow < body.length || this.#blocked.length) this.#blocked.push([id, body]);
    else this.#send(id, body);
  }

  close() {
    this.#socket.destroy();
  }

  #send(id, body) {
    this.#sendWindow -= body.length;
    this.#out.push(frame(HEADERS, END_HEADERS, id, this.#headerBlock), frame(DATA, END_STREAM, id, body));
    if (this.#flushing) return;
    this.#flushing = true;
    process.nextTick(() => {
      this.#flushing = false;
      this.#socket.write(this.#out.length === 1 ? this.#out[0] : Buffer.concat(this.#out));
      this.#out = [];
    });
  }

  #windowUpdate(increment) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(increment);
    return frame(WINDOW_UPDATE, 0, 0, b);
  }

  #end(id, failure) {
    const stream = this.#streams.get(id);
    if (!stream) return;
    this.#streams.delete(id);
    this.inflight--;
    this.#onEnd(this, failure, stream.started);
  }

  #fatal(why) {
    this.open = false;
    for (const id of [...this.#streams.keys()]) this.#end(id, why);
  }

  #read(chunk) {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 9) {
      const length = buf.readUIntBE(at, 3);
      if (buf.length - at < 9 + length) break;
      this.#frame(buf[at + 3], buf[at + 4], buf.readUInt32BE(at + 5) & MAX_WINDOW, buf.subarray(at + 9, at + 9 + length));
      at += 9 + length;
    }
    this.#pending = at < buf.length ? buf.subarray(at) : null;
  }

  #frame(type, flags, id, payload) {
    if (type === HEADERS) {
      const stream = this.#streams.get(id);
      if (!stream) return;
      if (!stream.answered) {
        stream.answered = true;
        if (!startsWithStatus200(payload, flags)) return this.#end(id, "HTTP status not 200");
        if (flags & END_STREAM) return this.#end(id, "trailers-only answer (a gRPC error)");
      }
      if (flags & END_STREAM) this.#end(id, undefined);
    } else if (type === DATA) {
      this.#received += payload.length;
      if (this.#received > 2 ** 30) {
        this.#socket.write(this.#windowUpdate(this.#received));
        this.#received = 0;
      }
      if (flags & END_STREAM) this.#end(id, "the answer ended without trailers");
    } else if (type === RST_STREAM) {
      this.#end(id, `reset ${payload.readUInt32BE(0)}`);
    } else if (type === SETTINGS && !(flags & ACK)) {
      for (let i = 0; i + 6 <= payload.length; i += 6) {
        if (payload.readUInt16BE(i) === 0x4 && payload.readUInt32BE(i + 2) < 1024) this.#fatal("the server's stream window is below one request");
      }
      this.#socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
      this.onReady?.();
      this.onReady = undefined;
    } else if (type === PING && !(flags & ACK)) {
      this.#socket.write(frame(PING, ACK, 0, payload));
    } else if (type === WINDOW_UPDATE && id === 0) {
      this.#sendWindow += payload.readUInt32BE(0) & MAX_WINDOW;
      while (this.#blocked.length && this.#sendWindow >= this.#blocked[0][1].length) this.#send(...this.#blocked.shift());
    } else if (type === GOAWAY) {
      this.#fatal(`GOAWAY ${payload.readUInt32BE(4)}`);
      this.#socket.destroy();
    }
  }
}

/** Whether a HEADERS frame's block starts with ":status: 200" (after padding, priority and table size updates). */
function startsWithStatus200(payload, flags) {
  let at = (flags & PADDED ? 1 : 0) + (flags & PRIORITY ? 5 : 0);
  while (at < payload.length && (payload[at] & 0xe0) === 0x20) {
    // A dynamic table size update: a 5-bit-prefix integer.
    if ((payload[at++] & 0x1f) === 0x1f) while (at < payload.length && payload[at++] & 0x80);
  }
  return payload[at] === 0x88;
}
