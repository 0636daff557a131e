// How commands reach Redis's socket. ioredis writes each command to the
// socket on its own (a syscall each) and builds its text piece by piece; on
// the write path of every call, both showed in the server's profile.
import type { Writable } from "node:stream";
import { Command, type Redis } from "ioredis";

type Sending = { sendCommand(...args: unknown[]): unknown; stream?: Writable; status: string };

/**
 * The commands of one turn of the event loop leave in one write. ioredis
 * writes each command to its socket on its own, a syscall each, and on
 * loopback the sender also pays the receiving side of TCP: 8 % of the server's
 * CPU under 128 concurrent writers. The socket is corked at a turn's first
 * command and uncorked once the turn's I/O callbacks have run (setImmediate):
 * 0.78x the CPU per SetSettings over gRPC, 0.87x over REST (bench, two
 * instances paired per round, 7 rounds).
 * A command still corked when the connection drops was never sent, and is
 * failed as one that may have run (markLostAfterSend): the honest side.
 */
export function coalesceWrites(redis: Redis): void {
  const target = redis as unknown as Sending;
  const send = target.sendCommand;
  target.sendCommand = function (this: Sending, ...args: unknown[]) {
    const stream = this.stream;
    if (stream && this.status === "ready" && stream.writableCorked === 0) {
      stream.cork();
      setImmediate(() => stream.uncork());
    }
    return send.apply(this, args);
  };
}

type Writing = { name: string; args: unknown[]; bufferMode?: boolean; toWritable(socket: unknown): string | Buffer };
let textOf: Writing["toWritable"] | undefined;

/**
 * Every command's RESP bytes, written straight into one buffer. ioredis makes
 * its text with `+=`, five pieces per argument: a write has about 40
 * arguments, and its 200 pieces were 12 % of the bytes a SetSettings
 * allocated on the JS heap, flattened and encoded again by the socket write.
 * Commands with a Buffer argument keep ioredis's own way. Once per process.
 */
export function writeCommandsAsBytes(): void {
  if (textOf) return;
  const prototype = Command.prototype as unknown as Writing;
  const text = (textOf = prototype.toWritable);
  prototype.toWritable = function (this: Writing, socket: unknown) {
    return this.bufferMode ? text.call(this, socket) : commandBytes(this.name, this.args as string[]);
  };
}

function commandBytes(name: string, args: string[]): Buffer {
  const lengths = new Array<number>(args.length);
  const nameBytes = Buffer.byteLength(name);
  let size = headerSize(args.length + 1) + bulkSize(nameBytes);
  for (let i = 0; i < args.length; i++) size += bulkSize((lengths[i] = Buffer.byteLength(args[i]!)));
  const out = Buffer.allocUnsafe(size);
  let at = writeHeader(out, 0, STAR, args.length + 1);
  at = writeBulk(out, at, name, nameBytes);
  for (let i = 0; i < args.length; i++) at = writeBulk(out, at, args[i]!, lengths[i]!);
  return out;
}

function digits(n: number): number {
  let d = 1;
  for (; n >= 10; d++) n = Math.floor(n / 10);
  return d;
}
/** "*3\r\n" or "$5\r\n". */
const headerSize = (n: number) => 1 + digits(n) + 2;
/** "$5\r\nhello\r\n". */
const bulkSize = (bytes: number) => headerSize(bytes) + bytes + 2;

const STAR = 0x2a;
const DOLLAR = 0x24;

function writeHeader(out: Buffer, at: number, mark: number, n: number): number {
  out[at] = mark;
  const end = at + digits(n);
  for (let i = end; i > at; i--, n = Math.floor(n / 10)) out[i] = 0x30 + (n % 10);
  out[end + 1] = 13;
  out[end + 2] = 10;
  return end + 3;
}

/** Below this, ASCII text is copied here: cheaper than a call into C++ per argument. */
const SHORT = 64;

function writeBulk(out: Buffer, at: number, text: string, bytes: number): number {
  at = writeHeader(out, at, DOLLAR, bytes);
  if (bytes === text.length && bytes < SHORT) for (let i = 0; i < bytes; i++) out[at++] = text.charCodeAt(i);
  else at += out.write(text, at, bytes, "utf8");
  out[at++] = 13;
  out[at++] = 10;
  return at;
}
