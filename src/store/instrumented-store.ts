// Times every store operation for the settings_store_operation_duration_seconds
// histogram, labelled by operation and outcome (ok, or the domain error's
// reason), without the stores knowing about metrics.
import type { Histogram } from "prom-client";
import { DomainError } from "../domain/errors.js";
import type { Store } from "./store.js";

const TIMED = new Set<string | symbol>([
  "requireActiveSession", "createSession", "getSession", "listSessions", "deleteSession",
  "readSettings", "readSettingsTexts", "readTuple", "mutate", "listHistory", "historySince", "ping",
  "putSchema", "deleteSchema", "getSchema", "listSchemas", "listViolations",
]);

export function instrumentStore(store: Store, seconds: Histogram<"operation" | "outcome">): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function" || !TIMED.has(prop)) return value;
      return async (...args: unknown[]) => {
        const end = seconds.startTimer({ operation: String(prop) });
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          end({ outcome: "ok" });
          return result;
        } catch (err) {
          end({ outcome: err instanceof DomainError ? err.reason : "error" });
          throw err;
        }
      };
    },
  });
}
