// The real entry point, as `npm start` runs it: its start-up log line,
// refusal of bad configuration, and a clean exit on SIGTERM.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, REDIS_URL: "", PORT: "0", LOG_LEVEL: "info", ...env },
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

describe("the server process", () => {
  it("logs its store, address and protocols, serves, and stops cleanly on SIGTERM", async () => {
    const main = startMain({});
    const started = await main.line(/"msg":"listening"/);
    expect(started.store).toBe("embedded");
    expect(started.protocols.join(" ")).toMatch(/grpc.*connect.*grpc-web/);
    const health = await fetch(`${started.address}/healthz`);
    expect(health.status).toBe(200);
    main.child.kill("SIGTERM");
    const [code] = await main.exited;
    expect(code).toBe(0);
    expect(main.output().stdout).toContain('"msg":"stopped"');
  });

  it.each([
    ["PORT", "eighty"],
    ["SESSION_DEFAULTS_LOCKED", "maybe"],
    ["DEFAULT_APPROVAL_POLICY", "sometimes"],
    ["MAX_KEY_LENGTH", "-1"],
    ["REDIS_URL", "localhost:6379"],
  ])("refuses to start when %s is %s, naming the variable", async (name, value) => {
    const main = startMain({ [name]: value });
    const [code] = await main.exited;
    expect(code).toBe(2);
    expect(main.output().stderr).toContain(name);
  });
});
