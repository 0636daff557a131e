// Redis Cluster's key slots: CRC16 (XMODEM) of a key's hash tag, mod 16384,
// as the cluster computes them; and, for any slot, a short hash tag that
// falls in it, so that keys of our own can be placed in a chosen slot.
const SLOTS = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/** The slot of a key: of its hash tag ({...}, when not empty), else of the whole key. */
export function slotOf(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key, "utf8")) % SLOTS;
}

let tags: string[] | undefined;

/** A hash tag ("f" and a number) in `slot`: the same one for a slot, always. */
export function tagForSlot(slot: number): string {
  if (!tags) {
    // "f0", "f1", ... until every slot has one (about 160,000 tries, once).
    const found = new Array<string>(SLOTS);
    let left = SLOTS;
    for (let n = 0; left > 0; n++) {
      const tag = `f${n}`;
      const s = crc16(Buffer.from(tag)) % SLOTS;
      if (found[s] === undefined) {
        found[s] = tag;
        left--;
      }
    }
    tags = found;
  }
  return tags[slot]!;
}
