// Group commit, as etcd batches its backend transactions: writes that arrive
// while a commit is in flight wait in a queue and go into the next
// transaction together, so one fsync covers all of them. Every writer is
// answered only after the commit that holds its write. What a failed commit
// means is decided once, for the whole batch (write-ops.ts, BatchFailure).
//
// Bounds (README, "Storage"): a batch holds at most BATCH_MAX_WRITES writes
// and BATCH_MAX_BYTES of writes (by writeBytes; one larger write goes alone);
// the queue behind it holds at most QUEUE_MAX_WRITES writes and
// QUEUE_MAX_BYTES, past which a write is refused at once (STORE_UNAVAILABLE:
// not applied).
import { errors } from "../../domain/errors.js";
import { fromPlainError, writeBytes, type BatchFailure, type OpResult, type OpValue, type WriteOp } from "./write-ops.js";

export const BATCH_MAX_WRITES = 512;
export const BATCH_MAX_BYTES = 8 * 1024 * 1024;
export const QUEUE_MAX_WRITES = 10_000;
export const QUEUE_MAX_BYTES = 64 * 1024 * 1024;
/**
 * Writers of a batch are answered this many per turn of the event loop: a
 * batch of hundreds answered at once would hold the loop for milliseconds,
 * and health checks and reads wait behind it.
 */
const ANSWER_SLICE = 32;

/** Runs one batch as one transaction: each op's result in order, or a BatchFailed rejection. */
export interface Committer {
  commit(batch: WriteOp[]): Promise<OpResult[]>;
}

/** The whole batch failed; nothing of it (not_applied) or maybe all of it (unknown) was kept. */
export class BatchFailed extends Error {
  constructor(readonly failure: BatchFailure | { outcome: "internal"; cause: string }) {
    super(failure.cause);
  }
}

export interface CommitHooks {
  /** A batch committed: how many writes and bytes it held. */
  batch?(writes: number, bytes: number): void;
  /** Called after the commit, before any writer hears its answer: events go out here, in batch order. */
  committed?(ops: WriteOp[], results: OpResult[]): void;
  /** A batch failed as a whole. */
  failed?(failure: BatchFailed["failure"]): void;
}

interface Pending {
  op: WriteOp;
  bytes: number;
  resolve(value: OpValue): void;
  reject(error: unknown): void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private inFlight: Promise<void> | undefined;
  /** The answers still being handed out, batch after batch, in order. */
  private answering: Promise<void> = Promise.resolve();

  constructor(
    private readonly committer: Committer,
    private readonly hooks: CommitHooks = {},
  ) {}

  /** Queues one write; answers its value once its batch has committed, or the error that refused it. */
  submit(op: WriteOp): Promise<OpValue> {
    const bytes = writeBytes(op);
    if (this.queue.length >= QUEUE_MAX_WRITES || this.queuedBytes + bytes > QUEUE_MAX_BYTES) {
      return Promise.reject(errors.unavailable("too many writes are waiting for the disk; retry"));
    }
    return new Promise<OpValue>((resolve, reject) => {
      this.queue.push({ op, bytes, resolve, reject });
      this.queuedBytes += bytes;
      // Writes that arrive in this same turn of the event loop join this batch.
      if (!this.inFlight) this.inFlight = Promise.resolve().then(() => this.run());
    });
  }

  /** Resolves once every write queued so far has been answered. */
  async drained(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    await this.answering;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const { batch, bytes } = this.take();
      let results: OpResult[];
      try {
        results = await this.committer.commit(batch.map((p) => p.op));
      } catch (err) {
        const failure = err instanceof BatchFailed ? err.failure : ({ outcome: "internal", cause: String(err) } as const);
        this.hooks.failed?.(failure);
        this.answer(batch, (p) => p.reject(batchError(failure, p.op)));
        continue;
      }
      this.hooks.batch?.(batch.length, bytes);
      try {
        this.hooks.committed?.(batch.map((p) => p.op), results);
      } finally {
        // The next batch goes to the disk while this one's writers are answered.
        this.answer(batch, (p, i) => {
          const r = results[i]!;
          if (r.ok) p.resolve(r.value);
          else p.reject(fromPlainError(r.error));
        });
      }
    }
    this.inFlight = undefined;
  }

  /** Answers a batch's writers ANSWER_SLICE per turn of the event loop, after the batches before it. */
  private answer(batch: Pending[], settle: (p: Pending, i: number) => void): void {
    this.answering = this.answering.then(async () => {
      for (let i = 0; i < batch.length; i += ANSWER_SLICE) {
        if (i > 0) await new Promise((r) => setImmediate(r));
        for (let j = i; j < Math.min(i + ANSWER_SLICE, batch.length); j++) settle(batch[j]!, j);
      }
    });
  }

  /** The next batch, within the bounds. */
  private take(): { batch: Pending[]; bytes: number } {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < BATCH_MAX_WRITES) {
      const size = this.queue[n]!.bytes;
      if (n > 0 && bytes + size > BATCH_MAX_BYTES) break;
      bytes += size;
      n++;
    }
    this.queuedBytes -= bytes;
    return { batch: this.queue.splice(0, n), bytes };
  }
}

function batchError(failure: BatchFailed["failure"], op: WriteOp): Error {
  switch (failure.outcome) {
    case "not_applied":
      return errors.unavailable(failure.cause);
    case "unknown":
      return op.kind === "mutate" ? errors.outcomeUnknown(op.options.requestId) : errors.outcomeUnknown();
    case "internal":
      return new Error(`the write batch failed: ${failure.cause}`);
  }
}
