// The contract suite: every semantic rule of SPEC §2-§4, as a function that
// test files run against each store (embedded, Redis, Redis Cluster) over
// each transport. Its sections are in ./contract/, in SPEC order.
import { afterAll, beforeAll, describe } from "vitest";
import { controlsContract } from "./contract/controls.js";
import { contractCalls, type StartServer } from "./contract/fixture.js";
import { limitsContract } from "./contract/limits.js";
import { sessionsContract } from "./contract/sessions.js";
import { settingsContract } from "./contract/settings.js";
import { storeOptionsContract } from "./contract/store-options.js";
import type { Clients, TestServer, TransportName } from "./server.js";

export type { StartServer } from "./contract/fixture.js";

export function contractSuite(label: string, start: StartServer, transports: TransportName[]): void {
  describe.each(transports)(`contract on ${label} over %s`, (transport) => {
    let server: TestServer;
    let clients: Clients;
    beforeAll(async () => {
      server = await start();
      clients = server.clients(transport);
    });
    afterAll(async () => {
      await server?.close();
    });

    const calls = contractCalls(() => clients);
    sessionsContract(calls);
    settingsContract(calls);
    controlsContract(calls);
    limitsContract(calls);
  });
  storeOptionsContract(label, start);
}
