// Every limit a request, a scope or a page is held to (SPEC §4 "Limits"),
// with its default and the error that says it was passed, in one place:
// config.ts fills the configurable ones from the environment; the rules, the
// engine, the services, the stores and every transport read them from here.
import { DomainError, errors } from "./errors.js";

export interface Limits {
  /** Characters in a settings key, after trimming. */
  maxKeyLength: number;
  maxActorLength: number;
  maxSourceLength: number;
  /** Nesting of one top-level value (path segments count as levels). */
  maxDepth: number;
  /** One request's message, as sent and once decompressed (an envelope's 5-byte prefix does not count): transport/request-body.ts. */
  maxBodyBytes: number;
  maxSettingsKeys: number;
  /** One scope's map: UTF-8 bytes of keys plus their JSON values. */
  maxSettingsBytes: number;
  /** One JSON Schema registered for a settings key, as canonical JSON. */
  maxSchemaBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxKeyLength: 240,
  maxActorLength: 120,
  maxSourceLength: 64,
  maxDepth: 32,
  maxBodyBytes: 1024 * 1024,
  maxSettingsKeys: 10_000,
  maxSettingsBytes: 4 * 1024 * 1024,
  maxSchemaBytes: 64 * 1024,
};

/** A session id, and an idempotency key (request id), in characters. */
export const MAX_ID_LENGTH = 128;
/** A session's working directory, in characters. */
export const MAX_CWD_LENGTH = 4096;
/** A page of sessions, history or scopes: the default size (asked as 0) and the largest. */
export const PAGE_SIZE = { default: 50, max: 500 } as const;
/** A page of codex-manager's GET /api/sessions (its `limit`): the default and the largest. */
export const SESSION_LIST_PAGE = { default: 100, max: 200 } as const;
/** A change-feed cursor or a page token, in characters. */
export const MAX_CURSOR_LENGTH = 4096;
/** Top-level keys one change-feed filter may name. */
export const MAX_FILTER_KEYS = 100;

/** The errors that say a limit was passed (all PAYLOAD_TOO_LARGE, naming the limit). */
export const limitErrors = {
  /** A request's message past Limits.maxBodyBytes, on every protocol (transport/request-body.ts). */
  body: (limit: number) => new DomainError("PAYLOAD_TOO_LARGE", `the request is larger than ${limit} bytes`, { limit }),
  keys: (limit: number) => errors.tooLarge("settings map key count", limit),
  bytes: (limit: number) => errors.tooLarge("settings map size in bytes", limit),
};
