// Whole-map reads of big maps, made cheap. A map of 10,000 keys is about
// 4 MiB: parsing it and encoding it as a protobuf Struct took about 225 ms of
// CPU per read, all of it blocking the event loop. So:
//   - the store answers the map as stored, canonical JSON text per key, and
//     answers nothing but the revision when the caller already holds it;
//   - the answer for one scope at one revision is kept (bounded by bytes,
//     least recently used first) and its encodings are built once;
//   - encodings are built in slices that yield to the event loop, so no
//     slice blocks it for more than a few milliseconds.
import { create, toBinary } from "@bufbuild/protobuf";
import { GetSettingsResponseSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { setOwn } from "../domain/json.js";
import type { JsonObject, JsonValue } from "../domain/types.js";
import { entrySize, Writer, type Sizes } from "./struct-wire.js";

/** How long one slice of encoding may run before it lets other work in. */
const SLICE_MS = 4;

/** Runs `step` over `items` in slices of at most SLICE_MS each. */
async function sliced<T>(items: T[], step: (item: T) => void): Promise<void> {
  let started = performance.now();
  for (let i = 0; i < items.length; i++) {
    step(items[i]!);
    if ((i & 63) === 63 && performance.now() - started > SLICE_MS) {
      await new Promise((r) => setImmediate(r));
      started = performance.now();
    }
  }
}

export class SettingsSnapshot {
  /** UTF-8 bytes of keys and texts: what this snapshot costs to keep. */
  readonly size: number;
  private parsed?: JsonObject;
  private jsonText?: Promise<string>;
  private proto?: Promise<Uint8Array>;

  constructor(
    readonly revision: bigint,
    private readonly entries: [key: string, text: string][],
  ) {
    let size = 0;
    for (const [key, text] of entries) size += key.length + text.length;
    this.size = size;
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
      const sizes: Sizes = new Map();
      const values: JsonValue[] = [];
      let structBytes = 0;
      await sliced(this.entries, ([key, text]) => {
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
      let i = 0;
      await sliced(this.entries, ([key]) => writer.entry(key, values[i++]!));
      out.set(tail, writer.pos);
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
