// The SQLite writer thread: owns the one write connection, so that no commit
// (and no fsync) ever runs on the main thread's event loop. It takes one
// batch at a time (./sqlite-writer.ts sends the next only after this one is
// answered), runs it as one transaction (../local/apply-batch.ts), and
// answers each write's result, or how the batch failed as a whole.
import { parentPort, workerData } from "node:worker_threads";
import { applyBatch, seedDefaults, type WriterConfig } from "../local/apply-batch.js";
import { LocalSchemas } from "../local/schema-ops.js";
import type { BatchFailure, WriteOp } from "../local/write-ops.js";
import { CommitFailed, SqliteBackend, type SqliteSynchronous } from "./sqlite-backend.js";

export interface WriterData {
  file: string;
  synchronous: SqliteSynchronous;
  config: WriterConfig;
}

export type ToWriter = { batch: number; ops: WriteOp[] } | { close: true };
export type FromWriter =
  | { ready: true }
  | { fatal: string }
  | { batch: number; results: ReturnType<typeof applyBatch> }
  | { batch: number; failure: BatchFailure | { outcome: "internal"; cause: string } };

const port = parentPort!;
const data = workerData as WriterData;
const post = (message: FromWriter) => port.postMessage(message);

let backend: SqliteBackend | undefined;
/** This thread's view of the committed schemas, with its own compiled validators. */
const schemas = new LocalSchemas();
try {
  backend = new SqliteBackend({ file: data.file, role: "writer", synchronous: data.synchronous });
  seedDefaults(backend, data.config, new Date());
  post({ ready: true });
} catch (err) {
  backend?.close();
  post({ fatal: (err as Error).message });
}

port.on("message", (message: ToWriter) => {
  if ("close" in message) {
    backend?.close();
    port.close();
    return;
  }
  try {
    post({ batch: message.batch, results: applyBatch(backend!, message.ops, data.config, schemas) });
  } catch (err) {
    post({ batch: message.batch, failure: failureOf(err) });
  }
});

/** Decided once for the whole batch: see BatchFailure. */
function failureOf(err: unknown): BatchFailure | { outcome: "internal"; cause: string } {
  if (err instanceof CommitFailed) return { outcome: err.applied === "no" ? "not_applied" : "unknown", cause: err.message };
  const e = err as Error & { code?: string };
  // A storage failure before the commit rolled the whole transaction back.
  if (typeof e.code === "string" && e.code.startsWith("SQLITE_")) return { outcome: "not_applied", cause: e.message };
  return { outcome: "internal", cause: e?.stack ?? String(err) };
}
