// The changes one watcher has not taken yet, bounded in count and bytes, and
// how a waiting watcher is woken.
//
// Per watcher it holds one heartbeat timer (re-armed with refresh(), never
// re-created) and one listener on the stream's signal, so that thousands of
// idle watchers cost little. Wake-ups go through one queue per process that
// wakes at most WAKE_BATCH watchers per turn of the event loop: a change sent
// to 2,000 watchers is written out in slices, and health checks and other
// calls are served between them.
import { errors } from "../domain/errors.js";
import type { FeedEvent, StoreEvent } from "../domain/types.js";

export type WakeReason = "event" | "heartbeat" | "aborted";

const WAKE_BATCH = 64;
const wakeQueue: (() => void)[] = [];
let wakeScheduled = false;

function runWakes(): void {
  const batch = wakeQueue.splice(0, WAKE_BATCH);
  for (const wake of batch) wake();
  // Scheduled from inside a check phase, the next batch runs after the next poll for I/O.
  if (wakeQueue.length > 0) setImmediate(runWakes);
  else wakeScheduled = false;
}

function scheduleWake(wake: () => void): void {
  wakeQueue.push(wake);
  if (wakeScheduled) return;
  wakeScheduled = true;
  setImmediate(runWakes);
}

/** Queued events of one watcher: a scope's (StoreEvent) or the change feed's (FeedEvent). */
export class Backlog<E extends StoreEvent | FeedEvent = StoreEvent> {
  private readonly events: E[] = [];
  private bytes = 0;
  private readonly overflowed = new AbortController();
  private waiting?: (why: WakeReason) => void;
  private wakePending = false;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly bound: { events: number; bytes: number },
    private readonly heartbeatMs: number,
    signal: AbortSignal,
  ) {
    const aborted = () => this.resolve("aborted");
    signal.addEventListener("abort", aborted, { once: true });
    this.overflowed.signal.addEventListener("abort", aborted, { once: true });
  }

  /** Aborted, with the WATCH_BACKLOG error as its reason, once the bound is passed. */
  get overflow(): AbortSignal {
    return this.overflowed.signal;
  }

  push(event: E): void {
    if (this.overflowed.signal.aborted) return;
    this.events.push(event);
    this.bytes += sizeOf(event);
    if (this.events.length > this.bound.events || this.bytes > this.bound.bytes) {
      // Nothing queued is kept: the client resumes from history.
      this.events.length = 0;
      this.bytes = 0;
      this.overflowed.abort(errors.watchBacklog(this.bound.events, this.bound.bytes));
      return;
    }
    if (this.waiting && !this.wakePending) {
      this.wakePending = true;
      scheduleWake(() => {
        this.wakePending = false;
        this.resolve("event");
      });
    }
  }

  shift(): E | undefined {
    const event = this.events.shift();
    if (event) this.bytes -= sizeOf(event);
    return event;
  }

  /** Waits for an event, the heartbeat interval, an overflow or the end of the stream. */
  next(): Promise<WakeReason> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      if (this.heartbeat) this.heartbeat.refresh();
      else this.heartbeat = setTimeout(() => this.resolve("heartbeat"), this.heartbeatMs);
    });
  }

  /** Lets go of the timer. */
  close(): void {
    clearTimeout(this.heartbeat);
    this.resolve("aborted");
  }

  private resolve(why: WakeReason): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(why);
  }
}

// Roughly the memory an event holds; computed once per event, however many watchers share it.
const sizes = new WeakMap<object, number>();
function sizeOf(event: StoreEvent | FeedEvent): number {
  if (event.type !== "change") return 64;
  const entry = "change" in event ? event.change.entry : event.entry;
  let size = sizes.get(entry);
  if (size === undefined) {
    size = 256 + JSON.stringify(entry.changes).length;
    sizes.set(entry, size);
  }
  return size;
}
