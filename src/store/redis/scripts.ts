// Loads the Lua scripts once and registers them on a connection. Each file is
// named <name>-<number of keys>.lua, and `--- @include "includes/x"` lines are
// replaced by that file, as in bullmq. ioredis calls them by EVALSHA and
// falls back to EVAL (which reloads) on NOSCRIPT.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";

const LUA_DIR = fileURLToPath(new URL("./lua/", import.meta.url));
const INCLUDE = /^--- @include "([\w/-]+)"$/gm;

export interface ScriptSource {
  name: string;
  numberOfKeys: number;
  lua: string;
}

function expand(file: string, seen = new Set<string>()): string {
  return readFileSync(LUA_DIR + file, "utf8").replace(INCLUDE, (_, name: string) => {
    if (seen.has(name)) return "";
    seen.add(name);
    return expand(`${name}.lua`, seen);
  });
}

export function loadScripts(): ScriptSource[] {
  return readdirSync(LUA_DIR)
    .filter((f) => f.endsWith(".lua"))
    .map((file) => {
      const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`Lua script ${file} must be named <name>-<keys>.lua`);
      return { name: camel(m[1]!), numberOfKeys: Number(m[2]), lua: expand(file) };
    });
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The scripts as ioredis commands: `redis.setEntries(keys..., args...)`. */
export interface ScriptCommands {
  setEntries(...args: (string | number)[]): Promise<unknown[]>;
  replaceSettings(...args: (string | number)[]): Promise<unknown[]>;
  unsetSetting(...args: (string | number)[]): Promise<unknown[]>;
  setPath(...args: (string | number)[]): Promise<unknown[]>;
  applyControls(...args: (string | number)[]): Promise<unknown[]>;
  createSession(...args: (string | number)[]): Promise<unknown[]>;
  deleteSession(...args: (string | number)[]): Promise<unknown[]>;
  seedDefaults(...args: (string | number)[]): Promise<number>;
  readScope(...args: (string | number)[]): Promise<unknown[]>;
  readHistory(...args: (string | number)[]): Promise<unknown[]>;
  readFeed(...args: (string | number)[]): Promise<unknown[]>;
  beginSchema(...args: (string | number)[]): Promise<unknown[]>;
  settleSchema(...args: (string | number)[]): Promise<unknown[]>;
}

export function registerScripts<T extends Redis | Cluster>(redis: T): T & ScriptCommands {
  for (const s of loadScripts()) {
    redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis as T & ScriptCommands;
}
