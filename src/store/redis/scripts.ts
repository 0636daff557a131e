// The Lua code of every store operation, as one Redis Functions library.
// Each file lua/<name>-<number of keys>.lua is the body of one function (it
// reads KEYS and ARGV as an EVAL script would); `--- @include "includes/x"`
// lines name the shared code it uses (as in bullmq), which the library runs
// once when Redis loads it (FUNCTION LOAD), not on every call: the JSON codec
// and the write frame are built once per library, so a call pays only for
// its own work. A `#!lua flags=...` first line gives the function's flags;
// a file without one gets `allow-cross-slot-keys` (its feed keys are in
// another slot on the same node, as EVAL scripts without flags could).
//
// The library's name carries a hash of its code, so instances of different
// releases on one Redis each call their own functions. It is loaded on every
// master when the store connects, and again when a call finds it missing (a
// Redis restarted empty, FUNCTION FLUSH, a new master): the call is then sent
// again, as ioredis resent an EVALSHA that met NOSCRIPT.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Cluster, type Redis } from "ioredis";

const LUA_DIR = fileURLToPath(new URL("./lua/", import.meta.url));
const INCLUDE = /^--- @include "([\w/-]+)"$/gm;
const FLAGS = /^#!lua flags=([\w,-]*)\n/;

export interface ScriptSource {
  name: string;
  numberOfKeys: number;
  flags: string[];
  /** The file's own code, without its includes. */
  body: string;
  /** The includes it names, in order, as their own code. */
  includes: string[];
  /** Includes and body as one EVAL script (for tests that read the code). */
  lua: string;
}

function read(file: string): string {
  return readFileSync(LUA_DIR + file, "utf8");
}

/** The includes a file names, depth first, each once. */
function includesOf(text: string, seen: Set<string>): string[] {
  const out: string[] = [];
  for (const [, name] of text.matchAll(INCLUDE)) {
    if (seen.has(name!)) continue;
    seen.add(name!);
    const code = read(`${name}.lua`);
    out.push(...includesOf(code, seen), code.replace(INCLUDE, ""));
  }
  return out;
}

export function loadScripts(): ScriptSource[] {
  return readdirSync(LUA_DIR)
    .filter((f) => f.endsWith(".lua"))
    .sort()
    .map((file) => {
      const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`Lua script ${file} must be named <name>-<keys>.lua`);
      const text = read(file);
      const flags = FLAGS.exec(text)?.[1]?.split(",").filter(Boolean) ?? ["allow-cross-slot-keys"];
      const includes = includesOf(text, new Set());
      const body = text.replace(FLAGS, "").replace(INCLUDE, "");
      return { name: camel(m[1]!), numberOfKeys: Number(m[2]), flags, body, includes, lua: [...includes, body].join("\n") };
    });
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export interface FunctionLibrary {
  name: string;
  code: string;
  /** Script name -> its function's name and number of keys. */
  functions: Map<string, { fn: string; numberOfKeys: number }>;
}

/**
 * Every script as one library. Redis runs a library's top level with only
 * `redis` in scope (no string, table or setmetatable), so the shared code and
 * the scripts are built by `setup`, on the first call after a load, and kept
 * for every later call.
 */
export function buildLibrary(scripts = loadScripts()): FunctionLibrary {
  const shared: string[] = [];
  for (const code of scripts.flatMap((s) => s.includes)) if (!shared.includes(code)) shared.push(code);
  const defs = scripts.map((s) => `scripts.${s.name} = function(KEYS, ARGV)\n${s.body}\nend`);
  const setup = ["local built", "local function setup()", ...shared, "local scripts = {}", ...defs, "return scripts", "end"].join("\n");
  const name = `settings_${createHash("sha1").update(setup).digest("hex").slice(0, 12)}`;
  const functions = new Map(scripts.map((s) => [s.name, { fn: `${name}_${s.name}`, numberOfKeys: s.numberOfKeys }]));
  const registrations = scripts.map(
    (s) =>
      `redis.register_function{ function_name = '${name}_${s.name}', flags = { ${s.flags.map((f) => `'${f}'`).join(", ")} },\n` +
      `  callback = function(KEYS, ARGV) built = built or setup(); return built.${s.name}(KEYS, ARGV) end }`,
  );
  return { name, code: [`#!lua name=${name}`, setup, ...registrations].join("\n"), functions };
}

/** The scripts as client methods: `redis.setEntries(keys..., args...)`. */
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
  /** Loads the library on every master that lacks it. */
  loadFunctions(): Promise<void>;
}

const MISSING = /Function not found/;

/** Loads `library` on one node unless it is there already (a Redis that is full still serves a loaded library). */
async function ensureOn(node: Redis, library: FunctionLibrary): Promise<void> {
  const listed = (await node.call("FUNCTION", "LIST", "LIBRARYNAME", library.name)) as unknown[];
  if (listed.length > 0) return;
  try {
    await node.call("FUNCTION", "LOAD", library.code);
  } catch (err) {
    // Another instance loaded it in between.
    if (!/already exists/.test((err as Error).message)) throw err;
  }
}

/** Adds the script methods to `redis`; call loadFunctions() (or any method) to load the library. */
export function registerScripts<T extends Redis | Cluster>(redis: T, library = buildLibrary()): T & ScriptCommands {
  let loading: Promise<void> | undefined;
  const load = (): Promise<void> => {
    loading ??= (async () => {
      const nodes = redis instanceof Cluster ? redis.nodes("master") : [redis as Redis];
      await Promise.all(nodes.map((node) => ensureOn(node, library)));
    })().finally(() => (loading = undefined));
    return loading;
  };
  const target = redis as T & ScriptCommands;
  const methods = target as unknown as Record<string, unknown>;
  for (const [name, { fn, numberOfKeys }] of library.functions) {
    methods[name] = async (...args: (string | number)[]) => {
      try {
        return await redis.fcall(fn, numberOfKeys, ...args);
      } catch (err) {
        if (!MISSING.test((err as Error).message)) throw err;
        await load();
        return redis.fcall(fn, numberOfKeys, ...args);
      }
    };
  }
  target.loadFunctions = load;
  return target;
}
