// The Redis call budget, and what a call's failure means for the caller, told honestly:
//   - STORE_UNAVAILABLE ("not applied, safe to retry") only when the command
//     never reached a Redis node that could run it (no connection, a node
//     being failed over, a slot moving) or Redis refused it (OOM, READONLY,
//     MOVED, CLUSTERDOWN, ...; the message names the cause);
//   - OUTCOME_UNKNOWN when a write was sent and no answer came (the budget
//     ran out, or the connection dropped under it): it may have been applied.
//     Read back, or retry with the same request id (the store remembers it
//     and applies nothing twice).
// STORE_TIMEOUT_MS is the budget of one store operation, all its commands
// together, not of each command.
import { ReplyError, type Redis } from "ioredis";
import { DomainError, errors } from "../../domain/errors.js";

/**
 * Replies by which Redis refuses a command it did not run. MOVED and ASK say
 * "not my slot" (a Redis Cluster failover or resharding under way); ioredis
 * follows them, and hands one on only when it could not reach the new owner.
 */
const REFUSALS = /^(OOM|READONLY|MASTERDOWN|LOADING|BUSY|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|MISCONF|NOTREADY|MOVED|ASK)\b/;

/**
 * ioredis failures that prove the command was never written to a socket:
 * nothing to send it on (a node down or being replaced, the cluster not
 * ready, a slot map changing under a pipeline). "Connection is closed." is
 * one of them because commands already written when a connection drops are
 * failed with LostAfterSend instead (see markLostAfterSend).
 */
const NOT_SENT = new RegExp(
  "^(Connection is closed\\.|Stream isn't writeable|Cluster isn't ready|Cluster is ended|None of startup nodes is available|" +
    "Failed to refresh slots cache|All keys in the pipeline should belong to the same slots allocation group)",
);

/** ioredis gave up following redirections; its message ends with the last failure. */
const TOO_MANY_REDIRECTIONS = /^Too many Cluster redirections\. Last error: (?:\w*Error: )?/;

/** A command that was written to Redis when its connection dropped: it may have run. */
class LostAfterSend extends Error {
  constructor(cause: unknown) {
    super("the connection to Redis was lost after the command was sent", { cause });
  }
}

export type CallKind = "read" | "write";

export interface CallBudget {
  /** When the whole store operation must have answered (ms since the epoch). */
  deadline: number;
  kind: CallKind;
  requestId?: string;
  /** Told when Redis refused a command (out of memory, read-only, a slot being failed over). */
  onRefusal?: (error: DomainError) => void;
  /**
   * Told when, while the client was connected, a command found no connection
   * to take it: on a cluster, a node down, which a readiness probe of one slot
   * cannot see. (A single Redis's probe sees its one connection.)
   */
  onUnreachable?: (error: DomainError) => void;
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
    let call: Promise<T>;
    try {
      call = fn();
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (value) => settle(undefined, value),
      (cause: unknown) => settle(() => reject(classify(cause, budget, sent))),
    );
  });
}

function noAnswer(budget: CallBudget): DomainError {
  return budget.kind === "write" ? errors.outcomeUnknown(budget.requestId) : errors.unavailable("Redis did not answer in time");
}

/**
 * Turns what ioredis threw into the domain error it means. `connected` says
 * whether the client was connected when the command was issued.
 */
export function classify(cause: unknown, budget: CallBudget, connected: boolean): unknown {
  if (cause instanceof DomainError) return cause;
  const message = cause instanceof Error ? cause.message : "";
  // A reply error other than a refusal is a fault of ours (500).
  if (cause instanceof ReplyError && !REFUSALS.test(message)) return cause;
  const last = message.replace(TOO_MANY_REDIRECTIONS, "");
  const refused = REFUSALS.test(last);
  if (refused || NOT_SENT.test(last)) {
    const error = errors.unavailable(refused ? `Redis refused the command: ${last}` : `Redis could not be reached: ${last}`, cause);
    if (refused) budget.onRefusal?.(error);
    else if (connected) budget.onUnreachable?.(error);
    return error;
  }
  // Written and then lost (LostAfterSend), or a failure we cannot place: a write may have been applied.
  return connected && budget.kind === "write" ? errors.outcomeUnknown(budget.requestId) : errors.unavailable(undefined, cause);
}

interface FlushingRedis {
  flushQueue(error: Error, options?: { offlineQueue?: boolean; commandQueue?: boolean }): void;
}

/**
 * When a connection drops, ioredis fails everything it holds with one error,
 * "Connection is closed.", whether it was already written (it may have run)
 * or still queued (it never left). This keeps ioredis's error for the queued
 * commands and fails the written ones with LostAfterSend, so each is answered
 * for what it is, and ioredis's own failover retry (which matches that
 * message) can never send a written command twice.
 */
export function markLostAfterSend(redis: Redis): void {
  const target = redis as unknown as FlushingRedis;
  const flush = target.flushQueue;
  if (typeof flush !== "function") throw new Error("this ioredis has no flushQueue: the Redis store cannot tell sent commands from unsent ones");
  target.flushQueue = function (error, options = {}) {
    if (options.offlineQueue !== false) flush.call(this, error, { offlineQueue: true, commandQueue: false });
    if (options.commandQueue !== false) flush.call(this, new LostAfterSend(error), { offlineQueue: false, commandQueue: true });
  };
}
