// The domain's input rules (SPEC §2 and §4 limits), declared once and shared
// by every transport. A Rules instance collects issues instead of throwing at
// the first one, so that a caller learns everything wrong with a request.
import { MAX_ID_LENGTH, type Limits } from "./limits.js";
import { errors, issue, type Issue, type IssueCode, type IssuePath } from "./errors.js";
import { deeperThan, isObject, setOwn } from "./json.js";
import {
  APPROVAL_POLICIES,
  FILESYSTEM_SANDBOXES,
  NETWORK_ACCESS,
  type ControlFields,
  type JsonObject,
  type JsonValue,
} from "./types.js";

const SESSION_ID = new RegExp(`^[A-Za-z0-9._:-]{1,${MAX_ID_LENGTH}}$`);
const SESSION_ID_PREFIX = new RegExp(`^[A-Za-z0-9._:-]{0,${MAX_ID_LENGTH}}$`);
const REQUEST_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_ID_LENGTH}}$`);
// C0, DEL and C1 control characters.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

export function isValidSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

/** Where in the request: a top-level field name, or a path of names and indexes. */
export type Where = string | IssuePath;
const at = (where: Where): IssuePath => (typeof where === "string" ? [where] : where);

export class Rules {
  readonly issues: Issue[] = [];
  constructor(readonly limits: Limits) {}

  get ok(): boolean {
    return this.issues.length === 0;
  }

  fail(where: Where, message: string, code: IssueCode = "custom"): undefined {
    this.issues.push(issue(at(where), message, code));
    return undefined;
  }

  /** Throws INVALID_REQUEST with every issue collected so far. */
  throwIfInvalid(): void {
    if (!this.ok) throw errors.invalid(this.issues);
  }

  sessionId(where: Where, id: string): string | undefined {
    if (!isValidSessionId(id)) {
      return this.fail(where, `must be 1-${MAX_ID_LENGTH} characters from A-Z a-z 0-9 . _ : -`, "invalid_format");
    }
    return id;
  }

  /** The start of a session id (a change-feed filter): absent, or characters a session id may hold. */
  sessionIdPrefix(where: Where, raw: string | undefined): string | undefined {
    if (!raw) return undefined;
    if (!SESSION_ID_PREFIX.test(raw)) return this.fail(where, "must be characters a session id may hold", "invalid_format");
    return raw;
  }

  /** A settings key: trimmed, 1..maxKeyLength characters, no control characters. */
  key(where: Where, raw: string | undefined): string | undefined {
    if (raw === undefined) return this.fail(where, "is required", "invalid_type");
    const key = raw.trim();
    const length = [...key].length;
    if (length === 0) return this.fail(where, "must not be blank", "too_small");
    if (length > this.limits.maxKeyLength) {
      return this.fail(where, `must be at most ${this.limits.maxKeyLength} characters`, "too_big");
    }
    if (CONTROL_CHARS.test(key)) return this.fail(where, "must not contain control characters", "invalid_format");
    if (!key.isWellFormed()) return this.fail(where, "must be well-formed Unicode", "invalid_format");
    return key;
  }

  /**
   * Provenance text: absent means the fallback; given, it is trimmed and must
   * be 1..max printable characters (a blank one is refused, as codex-manager does).
   */
  label(where: Where, raw: string | undefined, max: number, fallback: string): string {
    if (raw === undefined) return fallback;
    const text = raw.trim();
    if (text === "") return this.fail(where, "must not be blank", "too_small") ?? fallback;
    if ([...text].length > max) return this.fail(where, `must be at most ${max} characters`, "too_big") ?? fallback;
    if (CONTROL_CHARS.test(text) || !text.isWellFormed()) {
      return this.fail(where, "must be printable, well-formed text", "invalid_format") ?? fallback;
    }
    return text;
  }

  actor(where: Where, raw: string | undefined): string {
    return this.label(where, raw, this.limits.maxActorLength, "user");
  }

  source(where: Where, raw: string | undefined, fallback: "api" | "ui"): string {
    return this.label(where, raw, this.limits.maxSourceLength, fallback);
  }

  /** An idempotency key: absent, or 1-MAX_ID_LENGTH visible ASCII characters. */
  requestId(where: Where, raw: string | undefined): string | undefined {
    if (raw === undefined) return undefined;
    if (!REQUEST_ID.test(raw)) return this.fail(where, `must be 1-${MAX_ID_LENGTH} visible ASCII characters`, "invalid_format");
    return raw;
  }

  /** Any JSON value stored at `extraDepth` levels below a top-level key. */
  value(where: Where, value: JsonValue | undefined, extraDepth = 0): JsonValue | undefined {
    if (value === undefined) return this.fail(where, "is required", "invalid_type");
    if (deeperThan(value, this.limits.maxDepth - extraDepth)) {
      return this.fail(where, `nesting must be at most ${this.limits.maxDepth} levels deep`, "too_big");
    }
    const bad = findUnstorable(value);
    if (bad) return this.fail(where, bad, "invalid_value");
    return value;
  }

  /** A settings object: every top-level key and value valid; keys are trimmed. */
  settings(where: Where, raw: JsonValue | undefined): JsonObject | undefined {
    if (!isObject(raw)) return this.fail(where, "must be a JSON object", "invalid_type");
    const out: JsonObject = {};
    const before = this.issues.length;
    for (const rawKey of Object.keys(raw)) {
      const key = this.key([...at(where), rawKey], rawKey);
      if (key === undefined) continue;
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        this.fail([...at(where), rawKey], `duplicates the key "${key}" after trimming`);
        continue;
      }
      const value = this.value([...at(where), rawKey], raw[rawKey]);
      if (value !== undefined) setOwn(out, key, value);
    }
    return this.issues.length === before ? out : undefined;
  }

  /**
   * A path as segments, or as the dotted sugar for keys without dots. The
   * first segment is a top-level key (trimmed, as keys are); the rest name
   * nested keys exactly as stored. Each follows the key rules.
   */
  path(where: Where, raw: string | readonly unknown[] | undefined): { key: string; segments: string[] } | undefined {
    if (raw === undefined || (typeof raw === "string" && raw.trim() === "")) return this.fail(where, "is required", "invalid_type");
    const parts: readonly unknown[] = typeof raw === "string" ? raw.split(".") : raw;
    if (parts.length === 0) return this.fail(where, "must have at least one segment", "too_small");
    if (parts.length > this.limits.maxDepth) return this.fail(where, `must have at most ${this.limits.maxDepth} segments`, "too_big");
    const before = this.issues.length;
    const [first, ...rest] = parts.map((s, i) => this.segment(typeof raw === "string" ? where : [...at(where), i], s));
    if (this.issues.length > before) return undefined;
    return { key: first!.trim(), segments: rest as string[] };
  }

  /** One path segment: a non-blank string of at most maxKeyLength characters, no control characters. */
  private segment(where: Where, raw: unknown): string | undefined {
    if (typeof raw !== "string") return this.fail(where, "segments must be strings", "invalid_type");
    if (raw.trim() === "") return this.fail(where, "segments must not be empty or blank", "too_small");
    if ([...raw.trim()].length > this.limits.maxKeyLength) {
      return this.fail(where, `segments must be at most ${this.limits.maxKeyLength} characters`, "too_big");
    }
    if (CONTROL_CHARS.test(raw) || !raw.isWellFormed()) {
      return this.fail(where, "segments must be well-formed text without control characters", "invalid_format");
    }
    return raw;
  }

  /** One control; `model` null means inherit, enums must be one of their values. */
  control<N extends keyof ControlFields>(where: Where, name: N, value: unknown): ControlFields[N] | undefined {
    if (name === "model") {
      if (value === null) return null as ControlFields[N];
      if (typeof value !== "string" || value.trim() === "") {
        return this.fail(where, "must be a non-blank string, or null to inherit", "invalid_type");
      }
      if ([...value].length > 200 || CONTROL_CHARS.test(value)) {
        return this.fail(where, "must be at most 200 printable characters", "too_big");
      }
      return value.trim() as ControlFields[N];
    }
    const allowed: readonly string[] = CONTROL_VALUES[name as Exclude<N, "model">];
    if (typeof value !== "string" || !allowed.includes(value)) {
      return this.fail(where, `must be one of ${allowed.join(", ")}`, "invalid_value");
    }
    return value as ControlFields[N];
  }

  /** All four controls; each is required. */
  controls(where: Where, raw: Partial<Record<keyof ControlFields, unknown>>): ControlFields | undefined {
    const before = this.issues.length;
    const field = <N extends keyof ControlFields>(name: N) =>
      name in raw ? this.control([...at(where), name], name, raw[name]) : this.fail([...at(where), name], "is required", "invalid_type");
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
