// gRPC's standard health service (grpc.health.v1.Health), as Kubernetes' gRPC
// probes, Envoy and grpc-health-probe expect it: one status for the server
// ("") and for each of its services, SERVING exactly when GET /readyz answers
// 200 (both read ./readiness.ts). Check answers it now; Watch sends it at
// once, then every change, until the call ends.
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import type { Readiness } from "./readiness.js";

const statusOf = (ready: boolean) => (ready ? Status.SERVING : Status.NOT_SERVING);

/** Resolves when the call ends (the client went away, or the server shuts down). */
const ended = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));

/** `services`: the fully qualified names answered besides "" (the server as a whole). */
export function healthService(readiness: Readiness, services: readonly string[]): ServiceImpl<typeof Health> {
  const known = new Set(["", ...services]);
  return {
    async check(req) {
      if (!known.has(req.service)) throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      return { status: statusOf(await readiness.check()) };
    },

    async *watch(req, ctx: HandlerContext) {
      const signal = ctx.signal;
      if (!known.has(req.service)) {
        // The protocol's answer: SERVICE_UNKNOWN, and the call stays open (a service may appear later).
        yield { status: Status.SERVICE_UNKNOWN };
        await ended(signal);
        return;
      }
      const pending: boolean[] = [];
      let wake: (() => void) | undefined;
      const stop = readiness.watch((ready) => {
        pending.push(ready);
        wake?.();
      });
      const onAbort = () => wake?.();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        let sent: Status | undefined;
        for (;;) {
          // Changes already heard go out first: a drain's NOT_SERVING reaches the watcher before the stream ends.
          const ready = pending.shift();
          if (ready !== undefined) {
            if (statusOf(ready) !== sent) yield { status: (sent = statusOf(ready)) };
            continue;
          }
          if (signal.aborted) break;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        stop();
        signal.removeEventListener("abort", onAbort);
      }
      // The server shutting down ends the stream with its reason (unavailable); a client that left hears nothing.
      throw signal.reason;
    },
  };
}
