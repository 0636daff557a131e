// Idempotent writes: each logical write carries one request id, and is sent
// again once, with that same id, when the answer says it was not applied
// (unavailable) or may have been (deadline_exceeded, OUTCOME_UNKNOWN). The
// service remembers ids per scope atomically with the write, so the second
// try answers the first one's result and nothing is applied twice.
import { Code } from "@connectrpc/connect";
import { guard, SettingsError } from "./errors.js";

export interface WriteOptions {
  /** This write's idempotency key (1-128 visible ASCII characters); a random UUID when absent. */
  requestId?: string;
  /** Send the write once more, with the same request id, on `unavailable` or OUTCOME_UNKNOWN (default true). */
  retry?: boolean;
}

/** A random UUID; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
export function newRequestId(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Whether a failed write may be sent again with its request id: `unavailable`
 * (the service's STORE_UNAVAILABLE, or no connection at all) was not applied;
 * OUTCOME_UNKNOWN may have been, and the id keeps a retry from applying it twice.
 * A deadline the caller set (no reason) is not retried: its time is up.
 */
export function retryable(err: unknown): boolean {
  if (!(err instanceof SettingsError)) return false;
  return err.code === Code.Unavailable || (err.code === Code.DeadlineExceeded && err.reason === "OUTCOME_UNKNOWN");
}

// A little jitter, so that clients refused together do not all come back at once.
const pause = () => new Promise((r) => setTimeout(r, 50 + Math.random() * 100));

/** Runs `send` with one request id, and once more with the same id when `retryable`. */
export async function idempotent<T>(options: WriteOptions, send: (requestId: string) => Promise<T>): Promise<T> {
  const requestId = options.requestId ?? newRequestId();
  const attempt = () => guard(send(requestId));
  try {
    try {
      return await attempt();
    } catch (err) {
      if (options.retry === false || !retryable(err)) throw err;
      await pause();
      return await attempt();
    }
  } catch (err) {
    if (err instanceof SettingsError) err.requestId = requestId;
    throw err;
  }
}
