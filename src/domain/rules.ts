// The domain's input rules (SPEC §2 and §4 limits), declared once and shared
// by every transport. A Rules instance collects issues instead of throwing at
// the first one, so that a caller learns everything wrong with a request.
import type { Limits } from "../config.js";
import { errors, type Issue } from "./errors.js";
import { deeperThan, isObject, setOwn } from "./json.js";
import {
  APPROVAL_POLICIES,
  FILESYSTEM_SANDBOXES,
  NETWORK_ACCESS,
  type ControlFields,
  type JsonObject,
  type JsonValue,
} from "./types.js";

const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// C0, DEL and C1 control characters.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

export function isValidSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

export class Rules {
  readonly issues: Issue[] = [];
  constructor(readonly limits: Limits) {}

  get ok(): boolean {
    return this.issues.length === 0;
  }

  fail(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  /** Throws INVALID_REQUEST with every issue collected so far. */
  throwIfInvalid(): void {
    if (!this.ok) throw errors.invalid(this.issues);
  }

  sessionId(path: string, id: string): string | undefined {
    if (!isValidSessionId(id)) {
      return this.fail(path, "must be 1-128 characters from A-Z a-z 0-9 . _ : -");
    }
    return id;
  }

  /** A settings key: trimmed, 1..maxKeyLength characters, no control characters. */
  key(path: string, raw: string | undefined): string | undefined {
    if (raw === undefined) return this.fail(path, "is required");
    const key = raw.trim();
    const length = [...key].length;
    if (length === 0) return this.fail(path, "must not be blank");
    if (length > this.limits.maxKeyLength) {
      return this.fail(path, `must be at most ${this.limits.maxKeyLength} characters`);
    }
    if (CONTROL_CHARS.test(key)) return this.fail(path, "must not contain control characters");
    if (!key.isWellFormed()) return this.fail(path, "must be well-formed Unicode");
    return key;
  }

  /** Provenance text: empty means the fallback, else 1..max characters. */
  label(path: string, raw: string | undefined, max: number, fallback: string): string {
    if (raw === undefined || raw === "") return fallback;
    const text = raw.trim();
    if (text === "") return this.fail(path, "must not be blank") ?? fallback;
    if ([...text].length > max) return this.fail(path, `must be at most ${max} characters`) ?? fallback;
    if (CONTROL_CHARS.test(text) || !text.isWellFormed()) {
      return this.fail(path, "must be printable, well-formed text") ?? fallback;
    }
    return text;
  }

  actor(path: string, raw: string | undefined): string {
    return this.label(path, raw, this.limits.maxActorLength, "user");
  }

  source(path: string, raw: string | undefined, fallback: "api" | "ui"): string {
    return this.label(path, raw, this.limits.maxSourceLength, fallback);
  }

  /** Any JSON value stored at `extraDepth` levels below a top-level key. */
  value(path: string, value: JsonValue | undefined, extraDepth = 0): JsonValue | undefined {
    if (value === undefined) return this.fail(path, "is required");
    if (deeperThan(value, this.limits.maxDepth - extraDepth)) {
      return this.fail(path, `nesting must be at most ${this.limits.maxDepth} levels deep`);
    }
    const bad = findUnstorable(value);
    if (bad) return this.fail(path, bad);
    return value;
  }

  /** A settings object: every top-level key and value valid; keys are trimmed. */
  settings(path: string, raw: JsonValue | undefined): JsonObject | undefined {
    if (!isObject(raw)) return this.fail(path, "must be a JSON object");
    const out: JsonObject = {};
    const before = this.issues.length;
    for (const rawKey of Object.keys(raw)) {
      const key = this.key(`${path}.${rawKey}`, rawKey);
      if (key === undefined) continue;
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        this.fail(`${path}.${rawKey}`, `duplicates the key "${key}" after trimming`);
        continue;
      }
      const value = this.value(`${path}.${key}`, raw[rawKey]);
      if (value !== undefined) setOwn(out, key, value);
    }
    return this.issues.length === before ? out : undefined;
  }

  /**
   * A path as segments, or as the dotted sugar for keys without dots. The
   * first segment is a top-level key (trimmed, as keys are); the rest name
   * nested keys exactly as stored. Each follows the key rules.
   */
  path(path: string, raw: string | readonly unknown[] | undefined): { key: string; segments: string[] } | undefined {
    if (raw === undefined || (typeof raw === "string" && raw.trim() === "")) return this.fail(path, "is required");
    const parts: readonly unknown[] = typeof raw === "string" ? raw.split(".") : raw;
    if (parts.length === 0) return this.fail(path, "must have at least one segment");
    if (parts.length > this.limits.maxDepth) return this.fail(path, `must have at most ${this.limits.maxDepth} segments`);
    const before = this.issues.length;
    const [first, ...rest] = parts.map((s, i) => this.segment(typeof raw === "string" ? path : `${path}.${i}`, s));
    if (this.issues.length > before) return undefined;
    return { key: first!.trim(), segments: rest as string[] };
  }

  /** One path segment: a non-blank string of at most maxKeyLength characters, no control characters. */
  private segment(path: string, raw: unknown): string | undefined {
    if (typeof raw !== "string") return this.fail(path, "segments must be strings");
    if (raw.trim() === "") return this.fail(path, "segments must not be empty or blank");
    if ([...raw.trim()].length > this.limits.maxKeyLength) {
      return this.fail(path, `segments must be at most ${this.limits.maxKeyLength} characters`);
    }
    if (CONTROL_CHARS.test(raw) || !raw.isWellFormed()) {
      return this.fail(path, "segments must be well-formed text without control characters");
    }
    return raw;
  }

  /** One control; `model` null means inherit, enums must be one of their values. */
  control<N extends keyof ControlFields>(path: string, name: N, value: unknown): ControlFields[N] | undefined {
    if (name === "model") {
      if (value === null) return null as ControlFields[N];
      if (typeof value !== "string" || value.trim() === "") {
        return this.fail(path, "must be a non-blank string, or null to inherit");
      }
      if ([...value].length > 200 || CONTROL_CHARS.test(value)) {
        return this.fail(path, "must be at most 200 printable characters");
      }
      return value.trim() as ControlFields[N];
    }
    const allowed: readonly string[] = CONTROL_VALUES[name as Exclude<N, "model">];
    if (typeof value !== "string" || !allowed.includes(value)) {
      return this.fail(path, `must be one of ${allowed.join(", ")}`);
    }
    return value as ControlFields[N];
  }

  /** All four controls; each is required. */
  controls(path: string, raw: Partial<Record<keyof ControlFields, unknown>>): ControlFields | undefined {
    const before = this.issues.length;
    const field = <N extends keyof ControlFields>(name: N) =>
      name in raw ? this.control(`${path}.${name}`, name, raw[name]) : this.fail(`${path}.${name}`, "is required");
    const controls = {
      model: field("model"),
      approvalPolicy: field("approvalPolicy"),
      networkAccess: field("networkAccess"),
      filesystemSandbox: field("filesystemSandbox"),
    };
    return this.issues.length === before ? (controls as ControlFields) : undefined;
  }
}

const CONTROL_VALUES = {
  approvalPolicy: APPROVAL_POLICIES,
  networkAccess: NETWORK_ACCESS,
  filesystemSandbox: FILESYSTEM_SANDBOXES,
} as const;

/** Values JSON and protobuf cannot carry faithfully. */
function findUnstorable(value: JsonValue): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "numbers must be finite";
  if (typeof value === "string") return value.isWellFormed() ? undefined : "strings must be well-formed Unicode";
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const bad = findUnstorable(v);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const k of Object.keys(value)) {
    if (!k.isWellFormed()) return "keys must be well-formed Unicode";
    const bad = findUnstorable(value[k]!);
    if (bad) return bad;
  }
  return undefined;
}
