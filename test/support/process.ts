// The real entry point in a child process, as `npm start` runs it.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { tempDataDir } from "./server.js";

export function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, REDIS_URL: "", DATA_DIR: tempDataDir(), PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = once(child, "exit") as Promise<[number | null, string | null]>;
  const line = async (pattern: RegExp, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = stdout.split("\n").find((l) => pattern.test(l));
      if (found) return JSON.parse(found) as Record<string, any>;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no log line matching ${pattern}; stdout: ${stdout}; stderr: ${stderr}`);
  };
  return { child, exited, line, output: () => ({ stdout, stderr }) };
}
