// The main thread's side of the SQLite writer thread (./writer-thread.ts):
// starts it, hands it one batch at a time, and hears each batch's results.
// If the thread dies, the batch it held has an unknown outcome, and every
// later write is refused (not applied) until the server is restarted.
import { Worker } from "node:worker_threads";
import { BatchFailed, type Committer } from "../local/group-commit.js";
import type { OpResult, WriteOp } from "../local/write-ops.js";
import type { FromWriter, ToWriter, WriterData } from "./writer-thread.js";

export class SqliteWriter implements Committer {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(r: OpResult[]): void; reject(e: unknown): void }>();
  private dead?: string;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: FromWriter) => {
      if (!("batch" in m)) return;
      const w = this.waiting.get(m.batch);
      this.waiting.delete(m.batch);
      if ("results" in m) w?.resolve(m.results);
      else w?.reject(new BatchFailed(m.failure));
    });
    const died = (why: string) => {
      this.dead ??= why;
      for (const w of this.waiting.values()) w.reject(new BatchFailed({ outcome: "unknown", cause: `the SQLite writer thread ${why}` }));
      this.waiting.clear();
    };
    worker.on("error", (err) => died(`failed: ${err.message}`));
    worker.on("exit", (code) => died(`exited (code ${code})`));
  }

  /** Starts the writer thread; resolves once it has opened (and migrated) the store, or rejects with why it could not. */
  static start(data: WriterData): Promise<SqliteWriter> {
    const worker = startWorker(new URL("./writer-thread.js", import.meta.url), data);
    return new Promise((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the SQLite writer thread exited (code ${code}) while opening ${data.file}`));
      worker.once("error", reject);
      worker.once("exit", onExit);
      worker.once("message", (m: FromWriter) => {
        worker.off("error", reject);
        worker.off("exit", onExit);
        if ("ready" in m) return resolve(new SqliteWriter(worker));
        void worker.terminate();
        reject(new Error("fatal" in m ? m.fatal : "the SQLite writer thread did not start"));
      });
    });
  }

  /** A reason writes cannot be taken at all, if the thread is gone. */
  get failure(): string | undefined {
    return this.dead;
  }

  /** The batch crosses to the thread by structured clone (cheaper here than serializing each write ourselves). */
  commit(batch: WriteOp[]): Promise<OpResult[]> {
    if (this.dead) return Promise.reject(new BatchFailed({ outcome: "not_applied", cause: `the SQLite writer thread ${this.dead}` }));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ batch: id, ops: batch } satisfies ToWriter);
    });
  }

  /** Lets the thread close the database (checkpointing the WAL), then waits for it to exit. */
  async close(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise((r) => this.worker.once("exit", r));
    this.worker.postMessage({ close: true } satisfies ToWriter);
    await exited;
  }
}

/**
 * The compiled server runs the thread's .js file. Run from TypeScript sources
 * (tests, tsx), the thread loads its .ts file through tsx, a dev dependency.
 */
function startWorker(url: URL, workerData: WriterData): Worker {
  if (import.meta.url.endsWith(".js")) return new Worker(url, { workerData });
  const source = url.href.replace(/\.js$/, ".ts");
  const bootstrap = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(source)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData });
}
