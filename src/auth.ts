// Optional bearer-token authentication (AUTH_TOKENS_FILE). Tokens map to an
// actor and a role; presented tokens are hashed and compared in constant time
// against every known token, so timing reveals neither a token nor which one
// matched. Tokens are never logged. With TLS client certificates, entries
// named "cert:<name>" map a verified certificate's subject ("cert:CN=deployer")
// or subject alternative name ("cert:DNS:ci.example.com", "cert:URI:spiffe://...",
// "cert:email:...", "cert:IP:...") to an actor and a role the same way; a call
// that sends no token is then known by its certificate. An entry may also set
// the actor's own rate limits (service/rate-limits.ts).
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createContextKey } from "@connectrpc/connect";
import { ConfigError, defaultBurst, MAX_RATE_PER_SECOND, type RateLimit } from "./config.js";
import { errors } from "./domain/errors.js";

export type Role = "read" | "write" | "admin";
const ROLES: Role[] = ["read", "write", "admin"];

export interface Principal {
  actor: string;
  role: Role;
  /** The actor's own rate limits, where the tokens file sets them. */
  limits?: ActorLimits;
}

/** What a connection says of its caller (transport/peer.ts): its verified certificate's names. */
export interface PeerCertificate {
  certificate?: string[];
}

const CERT_PREFIX = "cert:";
const CERT_NAME = /^(CN=|DNS:|URI:|email:|IP:)./;

/** Where the Connect interceptor leaves the caller for the handlers. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

const digest = (token: string) => createHash("sha256").update(token, "utf8").digest();

export class Authenticator {
  private constructor(
    private readonly entries: { hash: Buffer; principal: Principal }[],
    /** Certificate name → its caller. */
    private readonly certificates: Map<string, Principal>,
  ) {}

  /**
   * `{"<token>": {"actor": "ana", "role": "read" | "write" | "admin", "rateLimits"?: {...}}, "cert:CN=ci": {...}, ...}`;
   * certificate entries need `clientCertificates` (TLS_CA_FILE), or nothing could match them.
   */
  static fromFile(path: string, { clientCertificates = false } = {}): Authenticator {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new ConfigError(`AUTH_TOKENS_FILE: cannot read ${path}: ${(err as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError("AUTH_TOKENS_FILE must hold a JSON object of token → {actor, role}");
    }
    const entries: { hash: Buffer; principal: Principal }[] = [];
    const certificates = new Map<string, Principal>();
    Object.entries(parsed as Record<string, { actor?: unknown; role?: unknown; rateLimits?: unknown }>).forEach(([key, p], i) => {
      const isCert = key.startsWith(CERT_PREFIX);
      // A token is never named in a message; a certificate name may be.
      const where = `AUTH_TOKENS_FILE: ${isCert ? JSON.stringify(key) : `token #${i + 1}`}`;
      if (typeof p?.actor !== "string" || p.actor.trim() === "" || !ROLES.includes(p.role as Role)) {
        throw new ConfigError(`${where} needs a non-blank actor and a role of ${ROLES.join(", ")}`);
      }
      const principal: Principal = { actor: p.actor.trim(), role: p.role as Role, limits: actorLimitsFrom(p.rateLimits, where) };
      if (!isCert) {
        if (key.length < 16) throw new ConfigError(`${where} is shorter than 16 characters`);
        return void entries.push({ hash: digest(key), principal });
      }
      const name = key.slice(CERT_PREFIX.length);
      if (!CERT_NAME.test(name)) throw new ConfigError(`${where} must name a certificate as cert:CN=<name>, cert:DNS:<name>, cert:URI:<uri>, cert:email:<address> or cert:IP:<address>`);
      if (!clientCertificates) throw new ConfigError(`${where} maps a client certificate, but TLS_CA_FILE is unset, so none is asked for`);
      certificates.set(name, principal);
    });
    if (entries.length === 0 && certificates.size === 0) throw new ConfigError("AUTH_TOKENS_FILE holds no tokens");
    return new Authenticator(entries, certificates);
  }

  /**
   * The caller behind an `Authorization: Bearer <token>` header or, when the call sends none, behind
   * the connection's verified client certificate (a name the file maps); throws UNAUTHENTICATED.
   */
  authenticate(authorization: string | null | undefined, peer?: PeerCertificate): Principal {
    if (!authorization && peer?.certificate && this.certificates.size > 0) {
      for (const name of peer.certificate) {
        const principal = this.certificates.get(name);
        if (principal) return principal;
      }
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!m) throw errors.unauthenticated(this.certificates.size > 0 ? "a valid bearer token or client certificate" : undefined);
    const presented = digest(m[1]!);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, presented)) found = entry.principal;
    }
    if (!found) throw errors.unauthenticated(this.certificates.size > 0 ? "a valid bearer token or client certificate" : undefined);
    return found;
  }

  /** Whether some actor has limits of its own. */
  get limitsActors(): boolean {
    return [...this.entries.map((e) => e.principal), ...this.certificates.values()].some((p) => p.limits !== undefined);
  }
}

/** What a caller may do; undefined means authentication is off. */
export function authorize(caller: Principal | undefined, need: "read" | "write" | "admin", what: string): void {
  if (!caller) return;
  const rank = { read: 0, write: 1, admin: 2 };
  if (rank[caller.role] < rank[need]) throw errors.forbidden(`the ${caller.role} role cannot ${what}`);
}

/** An actor's own limits (tokens file): a limit, null for none, or absent for the default. */
export interface ActorLimits {
  writes?: RateLimit | null;
  watches?: RateLimit | null;
}

/**
 * An actor's limits as the tokens file gives them:
 * `"rateLimits": {"writes": 5, "burst": 10, "watches": 1, "watchBurst": 2}`;
 * `null` exempts the actor from that kind's default.
 */
export function actorLimitsFrom(raw: unknown, where: string): ActorLimits | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: rateLimits must be an object`);
  const r = raw as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !["writes", "burst", "watches", "watchBurst"].includes(k));
  if (unknown.length > 0) throw new ConfigError(`${where}: rateLimits takes writes, burst, watches and watchBurst, not ${unknown.join(", ")}`);
  const one = (rateName: string, burstName: string): RateLimit | null | undefined => {
    const rate = r[rateName];
    const burst = r[burstName];
    if (rate === undefined || rate === null) {
      if (burst !== undefined) throw new ConfigError(`${where}: rateLimits.${burstName} needs rateLimits.${rateName}`);
      return rate as null | undefined;
    }
    if (typeof rate !== "number" || !(rate > 0) || rate > MAX_RATE_PER_SECOND) throw new ConfigError(`${where}: rateLimits.${rateName} must be calls per second above 0, or null`);
    if (burst !== undefined && (!Number.isInteger(burst) || (burst as number) < 1)) throw new ConfigError(`${where}: rateLimits.${burstName} must be a whole number of 1 or more`);
    return { perSecond: rate, burst: (burst as number | undefined) ?? defaultBurst(rate) };
  };
  return { writes: one("writes", "burst"), watches: one("watches", "watchBurst") };
}
