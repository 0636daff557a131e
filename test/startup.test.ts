// The real entry point, as `npm start` runs it: its start-up log line,
// refusal of bad configuration, and a clean exit on SIGTERM.
import { describe, expect, it } from "vitest";
import { startMain } from "./support/process.js";

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
});
