// The Lua scripts' reply codes (lua/includes/codes.lua) and the table that
// turns them into domain errors (script-codes.ts) name the same codes with
// the same numbers: a code added on one side only fails here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { SCRIPT_CODES } from "../src/store/redis/script-codes.js";
import { loadScripts } from "../src/store/redis/scripts.js";

it("names every script reply code the same in Lua and in TypeScript", () => {
  const lua = readFileSync(join(import.meta.dirname, "../src/store/redis/lua/includes/codes.lua"), "utf8");
  const inLua = Object.fromEntries([...lua.matchAll(/^\s+([A-Z_]+) = (-\d+),$/gm)].map((m) => [m[1], Number(m[2])]));
  const inTs = Object.fromEntries(Object.entries(SCRIPT_CODES).map(([name, [code]]) => [name, code]));
  expect(inLua).toEqual(inTs);
  expect(Object.keys(inLua).length).toBeGreaterThan(5);
});

it("has no bare negative reply code left in a script: each names its code", () => {
  for (const s of loadScripts()) {
    const bare = [...s.lua.matchAll(/return \{ (-\d+)/g)].map((m) => m[1]);
    expect(bare, s.name).toEqual([]);
  }
});
