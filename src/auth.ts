// Optional bearer-token authentication (AUTH_TOKENS_FILE). Tokens map to an
// actor and a role; presented tokens are hashed and compared in constant time
// against every known token, so timing reveals neither a token nor which one
// matched. Tokens are never logged.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createContextKey } from "@connectrpc/connect";
import { ConfigError } from "./config.js";
import { errors } from "./domain/errors.js";

export type Role = "read" | "write" | "admin";
const ROLES: Role[] = ["read", "write", "admin"];

export interface Principal {
  actor: string;
  role: Role;
}

/** Where the Connect interceptor leaves the caller for the handlers. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

const digest = (token: string) => createHash("sha256").update(token, "utf8").digest();

export class Authenticator {
  private constructor(private readonly entries: { hash: Buffer; principal: Principal }[]) {}

  /** `{"<token>": {"actor": "ana", "role": "read" | "write" | "admin"}, ...}` */
  static fromFile(path: string): Authenticator {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new ConfigError(`AUTH_TOKENS_FILE: cannot read ${path}: ${(err as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError("AUTH_TOKENS_FILE must hold a JSON object of token → {actor, role}");
    }
    const entries = Object.entries(parsed as Record<string, { actor?: unknown; role?: unknown }>).map(([token, p], i) => {
      if (token.length < 16) throw new ConfigError(`AUTH_TOKENS_FILE: token #${i + 1} is shorter than 16 characters`);
      if (typeof p?.actor !== "string" || p.actor.trim() === "" || !ROLES.includes(p.role as Role)) {
        throw new ConfigError(`AUTH_TOKENS_FILE: token #${i + 1} needs a non-blank actor and a role of ${ROLES.join(", ")}`);
      }
      return { hash: digest(token), principal: { actor: p.actor.trim(), role: p.role as Role } };
    });
    if (entries.length === 0) throw new ConfigError("AUTH_TOKENS_FILE holds no tokens");
    return new Authenticator(entries);
  }

  /** The caller behind an `Authorization: Bearer <token>` header; throws UNAUTHENTICATED. */
  authenticate(authorization: string | null | undefined): Principal {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!m) throw errors.unauthenticated();
    const presented = digest(m[1]!);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, presented)) found = entry.principal;
    }
    if (!found) throw errors.unauthenticated();
    return found;
  }
}

/** What a caller may do; undefined means authentication is off. */
export function authorize(caller: Principal | undefined, need: "read" | "write" | "admin", what: string): void {
  if (!caller) return;
  const rank = { read: 0, write: 1, admin: 2 };
  if (rank[caller.role] < rank[need]) throw errors.forbidden(`the ${caller.role} role cannot ${what}`);
}
