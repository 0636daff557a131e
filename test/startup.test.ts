// The real entry point, as `npm start` runs it: its start-up log line,
// refusal of bad configuration, and a clean exit on SIGTERM, also when the
// signal goes to the `npm start` process itself.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { follow, startMain } from "./support/process.js";
import { tempDataDir } from "./support/server.js";

describe("the server process", () => {
  it("logs its store, address and protocols, serves, and stops cleanly on SIGTERM", async () => {
    const main = startMain({});
    const started = await main.line(/"msg":"listening"/);
    expect(started.store).toBe("sqlite");
    expect(started.data).toMatch(/settings\.db$/);
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

  it.each(["SIGTERM", "SIGINT"] as const)("stops the server when %s goes to `npm start`, leaving nothing behind", async (signal) => {
    const npm = follow(
      spawn("npm", ["start", "--silent"], {
        env: { ...process.env, REDIS_URL: "", DATA_DIR: tempDataDir(), PORT: "0", LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    const started = await npm.line(/"msg":"listening"/);
    expect((await fetch(`${started.address}/healthz`)).status).toBe(200);
    npm.child.kill(signal);
    await npm.exited;
    await npm.line(/"msg":"stopped"/);
    // Nothing answers on that port any more: the server did not outlive npm.
    await expect(fetch(`${started.address}/healthz`)).rejects.toThrow();
  });
});
