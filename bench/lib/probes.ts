// Paced probe loops that run beside a load and time what a user would feel
// meanwhile: GET /healthz, and a small GetSettings on a session the load
// does not touch. Each loop answers its latencies when stopped.
import http from "node:http";
import { GrpcConnection, httpRequest } from "./clients.js";
import { getFrame, PATHS } from "./messages.js";
import { latencyStats, type LatencyStats } from "./stats.js";

export interface Probe {
  stop: () => Promise<LatencyStats>;
}

/**
 * Calls `call` every `everyMs` (or back to back when it takes longer) until stopped; `call` answers its
 * latency in ms, or undefined for a failed call (so does a throw). `close` runs after the last call.
 */
export function pacedProbe(everyMs: number, call: () => Promise<number | undefined>, close = () => {}): Probe {
  const ms: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const took = await call().catch(() => undefined);
      if (took === undefined) failures++;
      else ms.push(took);
      const wait = everyMs - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      close();
      return latencyStats(ms, failures);
    },
  };
}

/** GET /healthz every `everyMs` on one keep-alive connection. */
export function healthProbe(url: string, everyMs = 20): Probe {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return pacedProbe(
    everyMs,
    async () => {
      const r = await httpRequest(`${url}/healthz`, { agent, timeoutMs: 2000 });
      return r.status === 200 ? r.ms : undefined;
    },
    () => agent.destroy(),
  );
}

/** GetSettings of one session (one key, or all) over gRPC every `everyMs`, on a connection of its own, 1 s deadline. */
export function getSettingsProbe(url: string, sessionId: string, key: string | undefined, everyMs = 20): Probe {
  const connection = new GrpcConnection(url);
  const frame = getFrame(sessionId, key);
  return pacedProbe(
    everyMs,
    async () => {
      const a = await connection.call(PATHS.get, frame, 1000);
      return a.grpcStatus === 0 ? a.ms : undefined;
    },
    () => connection.close(),
  );
}
