// Options that several commands share, so that each is spelled and explained once.
import { readFileSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import type { JsonValue, Scope } from "../client/index.js";
import { APPROVAL_POLICIES, FILESYSTEM_SANDBOXES, NETWORK_ACCESS } from "../domain/types.js";
import { UsageError } from "./exit.js";

function parseJson(flag: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new UsageError(`${flag} must be JSON (quote strings: '"text"')`);
  }
}

/** A JSON value given inline (`--value`) or as a file (`--value-file`), never both. */
export function jsonFrom(flag: string, inline: string | undefined, file: string | undefined): JsonValue | undefined {
  if (inline !== undefined && file !== undefined) throw new UsageError(`give ${flag} or ${flag}-file, not both`);
  if (file !== undefined) return parseJson(`${flag}-file`, readFileSync(file, "utf8"));
  return inline === undefined ? undefined : parseJson(flag, inline);
}

// Numbers are checked while parsing, so a bad one is a usage error like any other.
function revisionArg(text: string): bigint {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError("must be a revision number (0 or more)");
  return BigInt(text);
}

export function positiveArg(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError("must be a whole number of 1 or more");
  return Number(text);
}

export const revisionOption = (flags: string, description: string) => new Option(flags, description).argParser(revisionArg);
export const limitOption = (what: string) => new Option("--limit <n>", `${what} per page, at most 500 (default: 50)`).argParser(positiveArg);

export const sessionIdOption = () => new Option("--session-id <id>", "the session's id").makeOptionMandatory();

export const scopeOption = () =>
  new Option("--scope <scope>", "which map: this session's, or the defaults that new sessions copy").choices(["session", "default"]).default("session");

/** The four control options; `create` takes them optionally, `controls apply` requires them. */
export const controlOptions = () => [
  new Option("--approval-policy <policy>", "when the agent asks before acting").choices(APPROVAL_POLICIES),
  new Option("--network-access <access>", "whether the agent may use the network").choices(NETWORK_ACCESS),
  new Option("--filesystem-sandbox <mode>", "what the agent may write on disk").choices(FILESYSTEM_SANDBOXES),
];

const collect = (value: string, previous: string[]) => [...previous, value];

/** --path (dotted, for keys without dots) and repeated --segment (any key). */
export function addPathOptions(cmd: Command, dottedExample: string): Command {
  return cmd
    .option("--path <dotted.path>", `a nested key, segments joined by dots: ${dottedExample} (keys without dots)`)
    .option("--segment <segment>", "one path segment, repeatable, for keys with dots: --segment team --segment v1.2", collect, []);
}

/** The nested path from --path or --segment; undefined when neither is given. */
export function pathFrom(o: { path?: string; segment: string[] }): string | string[] | undefined {
  if (o.path !== undefined && o.segment.length > 0) throw new UsageError("give --path or --segment, not both");
  return o.segment.length > 0 ? o.segment : o.path;
}

/** Scope, provenance and compare-and-set: every write takes them. */
export function addWriteOptions(cmd: Command): Command {
  return cmd
    .addOption(scopeOption())
    .option("--actor <actor>", 'who makes the change, recorded in history (default: "user"; with auth on, the token\'s actor)')
    .option("--source <source>", "where the change comes from, recorded in history", "cli")
    .addOption(revisionOption("--if-revision <n>", "write only if the scope is still at this revision (compare-and-set; exit 6 if not)"))
    .option("--request-id <id>", "this write's idempotency key (default: a random UUID); the service applies a write with a known id at most once")
    .option("--no-retry", "send the write once only: no second try (same request id) when the service is unavailable or the outcome unknown");
}

export interface WriteOptions {
  scope: string;
  actor?: string;
  source: string;
  ifRevision?: bigint;
  requestId?: string;
  retry: boolean;
}

export const writeOptions = (o: WriteOptions) => ({
  scope: o.scope as Scope, actor: o.actor, source: o.source, ifRevision: o.ifRevision, requestId: o.requestId, retry: o.retry,
});
