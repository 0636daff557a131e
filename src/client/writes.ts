// Idempotent writes: each logical write carries one request id, and is sent
// again once, with that same id, when the answer says it was not applied
// (unavailable) or may have been (deadline_exceeded, OUTCOME_UNKNOWN). The
// service remembers ids per scope atomically with the write, so the second
// try answers the first one's result and nothing is applied twice. A call
// refused for its caller's rate limit (RATE_LIMITED: nothing applied) is sent
// again once, after the wait the service names.
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { guard, SettingsError } from "./errors.js";

export interface WriteOptions {
  /** This write's idempotency key (1-128 visible ASCII characters); a random UUID when absent. */
  requestId?: string;
  /** Send the write once more, with the same request id, on `unavailable` or OUTCOME_UNKNOWN, or after RATE_LIMITED's wait (default true). */
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

/** The longest RATE_LIMITED wait the SDK sits out by itself; a longer one is the caller's to decide. */
export const MAX_RETRY_AFTER_MS = 30_000;

/** How long a RATE_LIMITED refusal asks to wait, when the SDK should wait that long and send again; else undefined. */
export function rateLimitWait(err: unknown): number | undefined {
  if (!(err instanceof SettingsError) || err.reason !== "RATE_LIMITED") return undefined;
  const ms = err.detail?.retryAfter ? durationMs(err.detail.retryAfter) : 1000;
  return ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
}

// A little jitter, so that clients refused together do not all come back at once.
const pause = (ms = 50) => new Promise((r) => setTimeout(r, ms + Math.random() * 100));

/** Runs `send`, and once more after the wait a RATE_LIMITED refusal names: nothing was applied, so any call may. */
export async function afterRateLimit<T>(send: () => Promise<T>, retry = true): Promise<T> {
  try {
    return await guard(send());
  } catch (err) {
    const wait = retry ? rateLimitWait(err) : undefined;
    if (wait === undefined) throw err;
    await pause(wait);
    return await guard(send());
  }
}

/** Runs `send` with one request id, and once more with the same id when `retryable`. */
export async function idempotent<T>(options: WriteOptions, send: (requestId: string) => Promise<T>): Promise<T> {
  const requestId = options.requestId ?? newRequestId();
  const attempt = () => guard(send(requestId));
  try {
    try {
      return await attempt();
    } catch (err) {
      if (options.retry === false) throw err;
      const wait = rateLimitWait(err);
      if (wait === undefined && !retryable(err)) throw err;
      await pause(wait);
      return await attempt();
    }
  } catch (err) {
    if (err instanceof SettingsError) err.requestId = requestId;
    throw err;
  }
}
