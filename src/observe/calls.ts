// One place that records how each call went, whatever the transport: a
// metric for every call, and a log line for every failed one (successful
// ones at debug), with protocol, procedure, code, duration and actor.
import type { Logger } from "./log.js";
import { Children, type Metrics } from "./metrics.js";

export type Protocol = "grpc" | "grpc-web" | "connect" | "rest";

export interface CallOutcome {
  protocol: Protocol;
  /** The procedure's method name (SetSettings); REST routes name the procedure they call. */
  procedure: string;
  /** "ok", or a Connect code name such as "not_found" (REST answers map to the same codes). */
  code: string;
  ms: number;
  actor?: string;
}

export type CallObserver = (call: CallOutcome) => void;

export function callObserver(log: Logger, metrics: Metrics): CallObserver {
  const counts = new Children((protocol, procedure, code) => metrics.calls.labels(protocol!, procedure!, code!));
  const seconds = new Children((protocol, procedure) => metrics.callSeconds.labels(protocol!, procedure!));
  return (call) => {
    counts.get(call.protocol, call.procedure, call.code).inc();
    seconds.get(call.protocol, call.procedure).observe(call.ms / 1000);
    const level = call.code === "ok" ? "debug" : call.code === "internal" || call.code === "unknown" ? "error" : "info";
    if (!log.isLevelEnabled(level)) return;
    log[level]({ protocol: call.protocol, procedure: call.procedure, code: call.code, ms: +call.ms.toFixed(1), ...(call.actor && { actor: call.actor }) }, "call");
  };
}

/** The protocol of a Connect-family request, from its content type. */
export function protocolOf(contentType: string | null | undefined): Protocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
