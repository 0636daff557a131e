// JSON numbers are doubles here (google.protobuf.Value holds a double; Lua
// and JavaScript read them as doubles), so an integer literal past 2^53 - 1
// would be stored rounded: 9007199254740993 as 9007199254740992. Such a
// literal is refused, naming its path, before anything is applied.
//
// The rule is about integer literals (digits only, no fraction or exponent):
// a literal written with "." or "e" asks for a floating-point number and gets
// the nearest double, as JSON allows (0.1, 6.02e23).
//
// JSON.parse has lost the text by the time a value is seen, so this reads the
// request bytes (json-scan.ts). It is on every JSON write path, so it first checks, cheaply,
// whether any run of 16 digits exists at all: a run of 16 consecutive bytes
// covers one position of every residue mod 16, so probing every 16th byte finds
// each such run. Only then is the body walked, with the path of each literal.
import { errors, issue, type Issue } from "./errors.js";
import { isDigit, scanJson } from "./json-scan.js";

/** 2^53 - 1, the largest integer every double holds exactly, as digits: a refused literal has more, or as many and is greater. */
const MAX_DIGITS = String(Number.MAX_SAFE_INTEGER);
const RUN = MAX_DIGITS.length;
/** Enough to name what is wrong; a body full of them need not be listed whole. */
const MAX_ISSUES = 10;

/** Whether `bytes` holds RUN or more consecutive ASCII digits anywhere (in a string or not). */
function hasLongDigitRun(bytes: Uint8Array): boolean {
  for (let i = RUN - 1; i < bytes.length; i += RUN) {
    if (!isDigit(bytes[i])) continue;
    let start = i;
    while (start > 0 && isDigit(bytes[start - 1])) start--;
    let end = i + 1;
    while (end < bytes.length && isDigit(bytes[end])) end++;
    if (end - start >= RUN) return true;
  }
  return false;
}

/** Whether the number literal at [start, end) is an integer literal past 2^53 - 1 in magnitude. */
function inexact(bytes: Uint8Array, start: number, end: number): boolean {
  const digits = bytes[start] === 0x2d ? start + 1 : start;
  if (end - digits < RUN) return false;
  for (let i = digits; i < end; i++) if (!isDigit(bytes[i])) return false; // ".", "e": a double by choice
  if (end - digits > RUN) return true;
  for (let i = 0; i < RUN; i++) {
    const d = bytes[digits + i]! - MAX_DIGITS.charCodeAt(i);
    if (d !== 0) return d > 0;
  }
  return false;
}

/** Each integer literal a double cannot hold exactly, with its path; at most MAX_ISSUES. */
function scan(bytes: Uint8Array): Issue[] {
  const found: Issue[] = [];
  scanJson(bytes, {
    number(start, end, path) {
      if (!inexact(bytes, start, end)) return false;
      const literal = String.fromCharCode(...bytes.subarray(start, end));
      found.push(issue(path(), `the integer ${literal} is outside ±${MAX_DIGITS} (2^53 - 1), so it cannot be stored exactly; send it as a string`, "too_big"));
      return found.length >= MAX_ISSUES;
    },
  });
  return found;
}

/** The integer literals in a JSON body that a double cannot hold exactly, as issues with their paths (none is the common case, and cheap). */
export function inexactIntegers(bytes: Uint8Array): Issue[] {
  return hasLongDigitRun(bytes) ? scan(bytes) : [];
}

/** Throws INVALID_REQUEST naming each integer literal of a JSON body that a double cannot hold exactly. */
export function requireExactIntegers(bytes: Uint8Array): void {
  const issues = inexactIntegers(bytes);
  if (issues.length > 0) throw errors.invalid(issues);
}
