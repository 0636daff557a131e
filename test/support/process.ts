// The real, compiled entry point in a child process, as `npm start` and the
// package's bin run it (npm test builds dist/ first).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { tempDataDir } from "./server.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MAIN = join(ROOT, "dist", "src", "main.js");

/** Follows a child's stdout for JSON log lines. */
export function follow(child: ReturnType<typeof spawn>) {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = once(child, "exit") as Promise<[number | null, string | null]>;
  const line = async (pattern: RegExp, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = stdout.split("\n").find((l) => pattern.test(l));
      if (found) return JSON.parse(found) as Record<string, any>;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no log line matching ${pattern}; stdout: ${stdout}; stderr: ${stderr}`);
  };
  return { child, exited, line, output: () => ({ stdout, stderr }) };
}

/**
 * Starts dist/src/main.js; `maxOpenFiles` runs it under that `ulimit -n`, as a small container would;
 * `wrap` is a command the server is run by (it ends with the server's argv, as `exec "$@"` would take it).
 */
export function startMain(env: Record<string, string>, { maxOpenFiles, wrap = [] }: { maxOpenFiles?: number; wrap?: string[] } = {}) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does)`);
  const limit = maxOpenFiles ? ["prlimit", `--nofile=${maxOpenFiles}`] : [];
  const [command, ...args] = [...wrap, ...limit, process.execPath, MAIN];
  const child = spawn(command!, args, {
    env: { ...process.env, REDIS_URL: "", DATA_DIR: tempDataDir(), PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return follow(child);
}
