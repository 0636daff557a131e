// Times every store operation for the settings_store_operation_duration_seconds
// histogram, labelled by operation and outcome (ok, or the domain error's
// reason), without the stores knowing about metrics.
import type { Histogram } from "prom-client";
import { DomainError } from "../domain/errors.js";
import { Children } from "../observe/metrics.js";
import type { Store } from "./store.js";

const TIMED = new Set<string | symbol>([
  "requireActiveSession", "createSession", "getSession", "listSessions", "deleteSession",
  "readSettings", "readSettingsTexts", "readTuple", "mutate", "listHistory", "historySince", "ping",
  "putSchema", "deleteSchema", "getSchema", "listSchemas", "listViolations",
]);

export function instrumentStore(store: Store, seconds: Histogram<"operation" | "outcome">): Store {
  const timers = new Children((operation, outcome) => seconds.labels(operation!, outcome!));
  // One wrapper per operation, made at its first use: no closure, label object or timer per call.
  const wrappers = new Map<string | symbol, (...args: unknown[]) => Promise<unknown>>();
  const wrap = (operation: string, fn: (...a: unknown[]) => Promise<unknown>) => async (...args: unknown[]) => {
    const started = performance.now();
    try {
      const result = await fn.apply(store, args);
      timers.get(operation, "ok").observe((performance.now() - started) / 1000);
      return result;
    } catch (err) {
      timers.get(operation, err instanceof DomainError ? err.reason : "error").observe((performance.now() - started) / 1000);
      throw err;
    }
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function" || !TIMED.has(prop)) return value;
      let wrapped = wrappers.get(prop);
      if (!wrapped) wrappers.set(prop, (wrapped = wrap(String(prop), value as (...a: unknown[]) => Promise<unknown>)));
      return wrapped;
    },
  });
}
