// Per-caller rate limits on writes and on opening watches (Consul's and
// Kubernetes' habit: one misbehaving client must not take every write slot).
// Each caller has a token bucket per kind: `perSecond` tokens a second, up to
// `burst` saved. A call that finds its bucket empty is refused before
// anything is read or applied: RESOURCE_EXHAUSTED with reason RATE_LIMITED
// and how long to wait (REST: 429 and Retry-After).
//
// A caller is its actor when authenticated (a token, or a certificate the
// tokens file maps), else its verified client certificate, else its address
// (IPv6 by /64, the block one host usually holds). Limits come from
// RATE_LIMIT_* and, per actor, from the tokens file. Reads, health checks and
// reflection are never limited. Buckets are kept for at most
// RATE_LIMIT_CALLERS callers per kind: past it the least recently seen is
// forgotten (it starts again full), so many addresses cannot grow memory.
import type { ActorLimits, Principal } from "../auth.js";
import type { RateLimit, RateLimitSettings } from "../config.js";
import { errors } from "../domain/errors.js";

export type RateKind = "writes" | "watches";

/** The procedures limited, by kind (REST routes name the procedure they call). */
const LIMITED: Readonly<Record<string, RateKind>> = {
  SetSettings: "writes",
  UnsetSetting: "writes",
  ApplyControls: "writes",
  CreateSession: "writes",
  DeleteSession: "writes",
  WatchSettings: "watches",
  WatchChanges: "watches",
};


/** Who is calling, as far as the limits care. */
export interface Caller {
  principal?: Principal;
  /** The verified client certificate's names. */
  certificate?: string[];
  /** The remote address. */
  address: string;
}

/** Distinct actor labels the refusal metric keeps; the rest count as "other". */
const MAX_LABELS = 100;

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

/** The address a bucket belongs to: IPv4 as is, IPv6 by its /64. */
function addressKey(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!address.includes(":")) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "").toLowerCase()).join(":")}::/64`;
}

function identity(caller: Caller): { key: string; label: string } {
  if (caller.principal) return { key: `actor:${caller.principal.actor}`, label: caller.principal.actor };
  if (caller.certificate?.[0]) return { key: `cert:${caller.certificate[0]}`, label: "certificate" };
  return { key: `addr:${addressKey(caller.address)}`, label: "anonymous" };
}

export class RateLimiter {
  private readonly buckets: Record<RateKind, Map<string, Bucket>> = { writes: new Map(), watches: new Map() };
  private readonly labels = new Set<string>();

  constructor(
    private readonly settings: RateLimitSettings,
    /** Hears each refusal, with a bounded actor label. */
    private readonly refused?: (kind: RateKind, actor: string) => void,
  ) {}

  /** Whether any caller can be limited: with no default and no actor limits, nothing is done per call. */
  static needed(settings: RateLimitSettings, actorLimits: boolean): boolean {
    return settings.writes !== undefined || settings.watches !== undefined || actorLimits;
  }

  /** Takes a token for `procedure` if it is limited; throws RATE_LIMITED when the caller has none left. */
  admit(procedure: string, caller: Caller): void {
    const kind = LIMITED[procedure];
    if (kind === undefined) return;
    const own = caller.principal?.limits?.[kind];
    const limit = own === undefined ? this.settings[kind] : own;
    if (!limit) return;
    const { key, label } = identity(caller);
    const waitMs = this.take(kind, key, limit);
    if (waitMs === 0) return;
    this.refused?.(kind, this.label(label));
    throw errors.rateLimited(kind === "writes" ? "writes" : "watches opened", limit.perSecond, limit.burst, waitMs);
  }

  /** Takes one token; answers 0, or the milliseconds until one is there. */
  private take(kind: RateKind, key: string, limit: RateLimit): number {
    const buckets = this.buckets[kind];
    const now = performance.now();
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: limit.burst, at: now };
      if (buckets.size >= this.settings.maxCallers) buckets.delete(buckets.keys().next().value!);
    } else {
      buckets.delete(key); // re-inserted below: the map's order is least recently seen first
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) * limit.perSecond) / 1000);
      bucket.at = now;
    }
    buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / limit.perSecond));
  }

  private label(actor: string): string {
    if (this.labels.has(actor)) return actor;
    if (this.labels.size >= MAX_LABELS) return "other";
    this.labels.add(actor);
    return actor;
  }

  /** Buckets held now (for tests of the bound). */
  size(kind: RateKind): number {
    return this.buckets[kind].size;
  }
}
