// A small walk over JSON text as UTF-8 bytes, for what JSON.parse loses: the
// literal text of a number (exact-integers.ts) and the place of each object
// key (the SDK's "__proto__" keys, client/proto-keys.ts). Every structural
// character and digit is ASCII, so bytes need no decoding; only a key that
// is reported is decoded. Text that is not JSON is walked as far as it goes
// and never throws here: the parser that follows reports it.
import type { IssuePath } from "./errors.js";

export interface JsonVisitor {
  /** An object key, its bytes between the quotes at [start, end). */
  key?(start: number, end: number): void;
  /** A number literal at [start, end); `path()` says where it is. Return true to stop. */
  number?(start: number, end: number, path: () => IssuePath): boolean | void;
}

/** One open object or array: the element index (arrays) or where the current key is (objects). */
interface Frame {
  array: boolean;
  index: number;
  keyStart: number;
  keyEnd: number;
}

export const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
const inNumber = (c: number | undefined) => isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
const utf8 = new TextDecoder();

/** The string whose quoted bytes are [start, end), decoded (escapes too); the raw text if it is not valid JSON. */
export function jsonString(bytes: Uint8Array, start: number, end: number): string {
  const raw = utf8.decode(bytes.subarray(start, end));
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** The index after the string whose opening quote is at `start`. */
function stringEnd(bytes: Uint8Array, start: number): number {
  let i = start + 1;
  while (i < bytes.length && bytes[i] !== 0x22) i += bytes[i] === 0x5c ? 2 : 1;
  return i + 1;
}

export function scanJson(bytes: Uint8Array, visitor: JsonVisitor): void {
  const stack: Frame[] = [];
  const path = () => stack.map((f) => (f.array ? f.index : jsonString(bytes, f.keyStart, f.keyEnd)));
  let expectKey = false;
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    const top = stack[stack.length - 1];
    if (c === 0x22) {
      const end = stringEnd(bytes, i);
      if (expectKey && top && !top.array) {
        top.keyStart = i + 1;
        top.keyEnd = end - 1;
        expectKey = false;
        visitor.key?.(i + 1, end - 1);
      }
      i = end;
    } else if (c === 0x2d || isDigit(c)) {
      let end = i + 1;
      while (end < bytes.length && inNumber(bytes[end])) end++;
      if (visitor.number?.(i, end, path)) return;
      i = end;
    } else {
      if (c === 0x7b || c === 0x5b) {
        stack.push({ array: c === 0x5b, index: 0, keyStart: 0, keyEnd: 0 });
        expectKey = c === 0x7b;
      } else if (c === 0x7d || c === 0x5d) {
        stack.pop();
      } else if (c === 0x2c && top) {
        if (top.array) top.index++;
        else expectKey = true;
      }
      i++;
    }
  }
}
