// The Redis client sends the commands of one event-loop turn in one socket
// write (store/redis/command-writes.ts): each write is a syscall, and on loopback
// the sender pays the receiving side of TCP too. Held here against a real
// redis-server: one write for a turn's commands, every answer still its own,
// and commands still corked when the connection drops fail instead of hanging.
// Each command's bytes are written straight into one buffer (the same file):
// held to RESP as written out here, and to what Redis stores.
import type { Socket } from "node:net";
import fc from "fast-check";
import { Command, type Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeCommandsAsBytes } from "../src/store/redis/command-writes.js";
import { createRedisClient } from "../src/store/redis/connection.js";
import { startRedis, type TestRedis } from "./support/redis.js";

let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = createRedisClient({ redisUrl: redis.url, storeTimeoutMs: 2000 }) as Redis;
  await client.connect();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** Counts the socket's writes to the kernel (one _write or _writev each) while `fn` runs and settles. */
async function socketWrites<T>(fn: () => Promise<T>): Promise<{ writes: number; result: T }> {
  const stream = client.stream as Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
  let writes = 0;
  const write = stream._write;
  const writev = stream._writev;
  stream._write = function (...a) { writes++; return write.apply(this, a); };
  if (writev) stream._writev = function (...a) { writes++; return writev.apply(this, a); };
  try {
    return { result: await fn(), writes };
  } finally {
    stream._write = write;
    if (writev) stream._writev = writev;
  }
}

describe("commands of one turn of the event loop", () => {
  it("leave in one write, and each gets its own answer", async () => {
    const key = `w-${Date.now()}`;
    const { writes, result } = await socketWrites(() => Promise.all(Array.from({ length: 50 }, (_, i) => client.set(`${key}:${i}`, String(i)).then(() => client.get(`${key}:${i}`)))));
    expect(result).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    // The 50 SETs in one write, then the 50 GETs their answers started, in one more.
    expect(writes).toBe(2);
  });

  it("are written at once when they are alone", async () => {
    const { writes, result } = await socketWrites(() => client.ping());
    expect(result).toBe("PONG");
    expect(writes).toBe(1);
  });

  it("fail, not hang, when the connection drops before the turn ends", async () => {
    const pending = Array.from({ length: 10 }, (_, i) => client.set(`dropped:${i}`, "x").then(() => "answered", (err: Error) => err.message));
    client.stream.destroy();
    const outcomes = await Promise.all(pending);
    // Never written, but failed as commands that may have run: the honest side (call-budget.ts).
    expect(new Set(outcomes)).toEqual(new Set(["the connection to Redis was lost after the command was sent"]));
    await new Promise<void>((resolve) => client.once("ready", resolve));
    expect(await client.ping()).toBe("PONG");
  });
});

describe("a command's bytes", () => {
  const resp = (name: string, args: string[]) =>
    Buffer.from(`*${args.length + 1}\r\n${[name, ...args].map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
  const bytesOf = (c: Command) => Buffer.from((c as unknown as { toWritable(s: unknown): string | Buffer }).toWritable(undefined));

  it("are RESP: a count, then each argument's length and UTF-8, for any text and number", () => {
    writeCommandsAsBytes();
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: "binary" }), fc.string({ maxLength: 5000 }), fc.integer()), { maxLength: 60 }), (args) => {
        const c = new Command("fcall", args);
        expect(bytesOf(c).equals(resp("fcall", args.map(String)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("come back from Redis as written: empty, multi-byte, lone surrogates, and past the buffer pool's 8 KiB", async () => {
    const values = ["", "é", "ключ 🗝", "\ud800 half", "x".repeat(9000), "9".repeat(12)];
    await Promise.all(values.map((v, i) => client.set(`bytes:${i}`, v)));
    expect(await Promise.all(values.map((_, i) => client.get(`bytes:${i}`)))).toEqual(values.map((v) => Buffer.from(v).toString()));
  });
});
