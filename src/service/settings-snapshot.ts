// Whole-map reads of big maps, made cheap. A map of 10,000 keys is about
// 4 MiB: parsing it and encoding it as a protobuf Struct took about 225 ms of
// CPU per read, all of it blocking the event loop. So:
//   - the store answers the map as stored, canonical JSON text per key, and
//     answers nothing but the revision when the caller already holds it;
//   - the answer for one scope at one revision is kept (bounded by bytes,
//     least recently used first) and its encodings are built once;
//   - encodings are built in slices that yield to the event loop, so no
//     slice blocks it for more than a few milliseconds;
//   - the binary answer after a change copies the bytes of every entry whose
//     text did not change from the scope's previous answer, so a one-key
//     write costs one entry's encoding, not 10,000.
import { create, toBinary } from "@bufbuild/protobuf";
import { GetSettingsResponseSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { setOwn } from "../domain/json.js";
import type { JsonObject, JsonValue } from "../domain/types.js";
import { entrySize, Writer, type Sizes } from "./struct-wire.js";

/** How long one slice of encoding may run before it lets other work in. */
const SLICE_MS = 4;

/** Runs `step` over `items` in slices of at most SLICE_MS each. */
async function sliced<T>(items: T[], step: (item: T, index: number) => void): Promise<void> {
  let started = performance.now();
  for (let i = 0; i < items.length; i++) {
    step(items[i]!, i);
    if ((i & 63) === 63 && performance.now() - started > SLICE_MS) {
      await new Promise((r) => setImmediate(r));
      started = performance.now();
    }
  }
}

type Entries = [key: string, text: string][];

/** A finished binary answer: its bytes, and where each entry's bytes start (one more for the end). */
interface EncodedEntries {
  entries: Entries;
  out: Buffer;
  starts: Uint32Array;
}

/** Finds entry `i` (key, text) unchanged in an earlier answer: the index there, or -1. */
function unchangedIn(earlier: EncodedEntries): (i: number, key: string, text: string) => number {
  let index: Map<string, number> | undefined;
  const before = earlier.entries;
  return (i, key, text) => {
    // Stores answer a scope's keys in a stable order, so the same position is tried first.
    const j = before[i]?.[0] === key ? i : ((index ??= new Map(before.map(([k], n) => [k, n]))).get(key) ?? -1);
    return j >= 0 && before[j]![1] === text ? j : -1;
  };
}

export class SettingsSnapshot {
  /** UTF-8 bytes of keys and texts: what this snapshot costs to keep. */
  readonly size: number;
  private parsed?: JsonObject;
  private jsonText?: Promise<string>;
  private proto?: Promise<Uint8Array>;
  private encoded?: EncodedEntries;
  /** The previous answer of the scope, held only until this one's binary answer is built. */
  private earlier?: EncodedEntries;

  constructor(
    readonly revision: bigint,
    private readonly entries: Entries,
    previous?: SettingsSnapshot,
  ) {
    let size = 0;
    for (const [key, text] of entries) size += key.length + text.length;
    this.size = size;
    this.earlier = previous?.encoded;
  }

  /** The map as values (parsed on first use, for paths that need objects). */
  get settings(): JsonObject {
    if (!this.parsed) {
      const out: JsonObject = {};
      for (const [key, text] of this.entries) setOwn(out, key, JSON.parse(text) as JsonValue);
      this.parsed = out;
    }
    return this.parsed;
  }

  /** The map as one JSON object text: the stored texts, joined (each is checked, so stored corruption fails the read). */
  json(): Promise<string> {
    this.jsonText ??= (async () => {
      const parts: string[] = [];
      await sliced(this.entries, ([key, text]) => {
        JSON.parse(text);
        parts.push(`${JSON.stringify(key)}:${text}`);
      });
      return `{${parts.join(",")}}`;
    })();
    return this.jsonText;
  }

  /** GetSettingsResponse {settings, revision} in protobuf binary. */
  responseProto(): Promise<Uint8Array> {
    this.proto ??= (async () => {
      // A Struct is its map entries one after another: measured in slices, then written in slices
      // into one buffer (no object per entry: 10,000 distinct keys would each make V8 a new shape).
      // An entry whose text the previous answer had is copied from it, neither parsed nor measured.
      const earlier = this.earlier;
      const unchanged = earlier ? unchangedIn(earlier) : () => -1;
      const from = new Int32Array(this.entries.length);
      const sizes: Sizes = new Map();
      const values: (JsonValue | undefined)[] = [];
      let structBytes = 0;
      await sliced(this.entries, ([key, text], i) => {
        const j = (from[i] = unchanged(i, key, text));
        if (j >= 0) {
          structBytes += earlier!.starts[j + 1]! - earlier!.starts[j]!;
          values.push(undefined);
          return;
        }
        const value = JSON.parse(text) as JsonValue;
        values.push(value);
        structBytes += entrySize(key, value, sizes);
      });
      const head = Buffer.concat([Buffer.from([0x0a]), varint(structBytes)]);
      const tail = toBinary(GetSettingsResponseSchema, create(GetSettingsResponseSchema, { revision: this.revision }));
      // Field 1 (settings), length-delimited: tag 0x0a, the length as a varint, the Struct; then the revision.
      const out = Buffer.allocUnsafe(head.length + structBytes + tail.length);
      head.copy(out, 0);
      const writer = new Writer(out, sizes);
      writer.pos = head.length;
      const starts = new Uint32Array(this.entries.length + 1);
      // Unchanged entries that follow one another in the earlier answer are copied as one run.
      let runStart = 0;
      let runEnd = 0;
      const flush = () => {
        writer.pos += earlier ? earlier.out.copy(out, writer.pos, runStart, runEnd) : 0;
        runStart = runEnd = 0;
      };
      await sliced(this.entries, ([key], i) => {
        const j = from[i]!;
        if (j < 0) {
          flush();
          starts[i] = writer.pos;
          return writer.entry(key, values[i]!);
        }
        const begin = earlier!.starts[j]!;
        if (runEnd !== begin) {
          flush();
          runStart = runEnd = begin;
        }
        starts[i] = writer.pos + (runEnd - runStart);
        runEnd = earlier!.starts[j + 1]!;
      });
      flush();
      starts[this.entries.length] = writer.pos;
      out.set(tail, writer.pos);
      this.encoded = { entries: this.entries, out, starts };
      this.earlier = undefined;
      return out;
    })();
    return this.proto;
  }

  /** GetSettingsResponse in protobuf JSON, as toJsonString writes it (a zero revision is left out). */
  async responseJson(): Promise<Uint8Array> {
    const revision = this.revision === 0n ? "" : `,"revision":"${this.revision}"`;
    return Buffer.from(`{"settings":${await this.json()}${revision}}`);
  }
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** The latest snapshot of each scope, bounded by their total size; the least recently used go first. */
export class SnapshotCache {
  private readonly snapshots = new Map<string, SettingsSnapshot>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): SettingsSnapshot | undefined {
    const found = this.snapshots.get(key);
    if (found) {
      this.snapshots.delete(key);
      this.snapshots.set(key, found);
    }
    return found;
  }

  put(key: string, snapshot: SettingsSnapshot): void {
    const old = this.snapshots.get(key);
    if (old) {
      this.bytes -= old.size;
      this.snapshots.delete(key);
    }
    if (snapshot.size > this.maxBytes) return;
    this.snapshots.set(key, snapshot);
    this.bytes += snapshot.size;
    for (const [oldest, s] of this.snapshots) {
      if (this.bytes <= this.maxBytes) break;
      this.snapshots.delete(oldest);
      this.bytes -= s.size;
    }
  }
}
