// What a Redis call's failure means for the caller, told honestly:
//   - STORE_UNAVAILABLE ("not applied, safe to retry") only when the command
//     was never sent (no connection) or Redis refused it (OOM, READONLY,
//     LOADING, ...; the message names the cause);
//   - OUTCOME_UNKNOWN when a write was sent and no answer came within the
//     budget: it may have been applied. Read back, or retry with the same
//     request id (the store remembers it and applies nothing twice).
// STORE_TIMEOUT_MS is the budget of one store operation, all its commands
// together, not of each command.
import { ReplyError } from "ioredis";
import { DomainError, errors } from "../../domain/errors.js";

/** Replies by which Redis refuses a command it did not run. */
const REFUSALS = /^(OOM|READONLY|MASTERDOWN|LOADING|BUSY|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|MISCONF|NOTREADY)\b/;

export type CallKind = "read" | "write";

export interface CallBudget {
  /** When the whole store operation must have answered (ms since the epoch). */
  deadline: number;
  kind: CallKind;
  requestId?: string;
  /** Told when Redis refuses a command (out of memory, read-only, ...). */
  onRefusal?: (error: DomainError) => void;
}

/**
 * Runs one Redis command (or script) within the operation's budget.
 * `connected` tells whether a command issued now goes onto the wire.
 */
export function withinBudget<T>(budget: CallBudget, connected: () => boolean, fn: () => Promise<T>): Promise<T> {
  const sent = connected();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fail: (() => void) | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (fail) fail();
      else resolve(value as T);
    };
    // When the timer fires after the event loop was blocked, the answer may be
    // sitting unread in the socket: I/O runs after timers, setImmediate after I/O.
    const timer = setTimeout(
      () => setImmediate(() => settle(() => reject(sent ? noAnswer(budget) : errors.unavailable()))),
      Math.max(0, budget.deadline - Date.now()),
    );
    fn().then(
      (value) => settle(undefined, value),
      (cause: unknown) => settle(() => reject(classify(cause, budget, sent))),
    );
  });
}

function noAnswer(budget: CallBudget): DomainError {
  return budget.kind === "write" ? errors.outcomeUnknown(budget.requestId) : errors.unavailable("Redis did not answer in time");
}

/** Turns what ioredis threw into the domain error it means. */
export function classify(cause: unknown, budget: CallBudget, sent: boolean): unknown {
  if (cause instanceof DomainError) return cause;
  if (cause instanceof ReplyError) {
    // A refusal ran nothing; any other reply error is a fault of ours (500).
    const message = (cause as Error).message;
    if (!REFUSALS.test(message)) return cause;
    const refusal = errors.unavailable(`Redis refused the command: ${message}`, cause);
    budget.onRefusal?.(refusal);
    return refusal;
  }
  // The connection failed: before sending means not applied; after, unknown for a write.
  return sent && budget.kind === "write" ? errors.outcomeUnknown(budget.requestId) : errors.unavailable(undefined, cause);
}
