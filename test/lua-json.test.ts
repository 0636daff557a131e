// The Lua JSON codec that path writes use inside Redis must read and write
// exactly what Node writes: same text for the same value, arrays kept apart
// from objects, doubles exact.
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { canonicalJson } from "../src/domain/json.js";
import { startRedis, type TestRedis } from "./support/redis.js";
import { readFileSync } from "node:fs";

let redis: TestRedis;
let client: Redis;
const codec = readFileSync(new URL("../src/store/redis/lua/includes/json.lua", import.meta.url), "utf8");
const ROUND_TRIP = `${codec}\nlocal out = {}\nfor i, text in ipairs(ARGV) do out[i] = json_encode(json_decode(text)) end\nreturn out`;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

function randomDouble(): number {
  const buf = Buffer.alloc(8);
  for (;;) {
    for (let i = 0; i < 8; i++) buf[i] = Math.floor(Math.random() * 256);
    const d = buf.readDoubleLE(0);
    if (Number.isFinite(d)) return d;
  }
}

it("re-encodes values to the same canonical text as Node", async () => {
  const values = [
    { b: [], a: {}, c: [{}], d: [[]] },
    [0, -0, 1, -1, 0.1, 0.2 + 0.1, 1e21, 1e-7, 1.5e-7, 123e-20, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e300, -5e-324, 1.7976931348623157e308, 100, 1e20, 123456789012345680000],
    { s: "\u0000\u001f\"\\/\n\r\t\b\f é ☃ 😀 \u007f \u2028" },
    { "z": 1, "a": 2, "10": 3, "9": 4, "__proto__": null },
    [true, false, null, "", " "],
  ];
  const texts = values.map((v) => canonicalJson(v as never));
  expect(await client.eval(ROUND_TRIP, 0, ...texts)).toEqual(texts);
});

it("writes random doubles exactly as JavaScript prints them", async () => {
  const numbers = Array.from({ length: 2000 }, randomDouble);
  const texts = numbers.map((n) => JSON.stringify([n]));
  const back = (await client.eval(ROUND_TRIP, 0, ...texts)) as string[];
  expect(back).toEqual(texts);
});
