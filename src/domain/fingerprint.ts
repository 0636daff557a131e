// Identifies a write for idempotent retries: a request id reused with a
// different write is refused instead of answering the first write's result.
// Every store (and the Lua scripts, which get it as an argument) uses this one.
import { createHash } from "node:crypto";
import { canonicalJson } from "./json.js";
import type { JsonObject, Mutation, Scope } from "./types.js";

export function mutationFingerprint(scope: Scope, mutation: Mutation, ifRevision?: bigint): string {
  // Through JSON first: an absent field (controls without settings) must not reach the canonical form.
  const facts = JSON.parse(JSON.stringify({ scope, ifRevision: ifRevision?.toString() ?? null, ...mutation })) as JsonObject;
  return createHash("sha256").update(canonicalJson(facts)).digest("base64url").slice(0, 22);
}
