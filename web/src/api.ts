// The panel talks to the service only through Connect-Web and the SDK.
import { createConnectTransport } from "@connectrpc/connect-web";
import { createSettingsSdk, sdkJsonOptions, SettingsError } from "../../src/client/index.js";

const TOKEN_KEY = "settings-panel-token";

/** The bearer token for a service with authentication on; kept for this browser tab only. */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (value: string) => (value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY)),
};

export const sdk = createSettingsSdk(
  createConnectTransport({
    baseUrl: window.location.origin,
    // So that "__proto__" keys of a settings map show, as over REST.
    jsonOptions: sdkJsonOptions,
    interceptors: [
      (next) => (req) => {
        const t = token.get();
        if (t) req.header.set("authorization", `Bearer ${t}`);
        return next(req);
      },
    ],
  }),
);
export { SettingsError };
export type { FeedChange, JsonObject, JsonValue, Scope, SettingsChange, Tuple } from "../../src/client/index.js";

const MESSAGES: Record<string, string> = {
  SESSION_DELETED: "This session was deleted.",
  SESSION_NOT_FOUND: "This session does not exist.",
  SYSTEM_SESSION: "This session is owned by the system and cannot be viewed here.",
  DEFAULTS_LOCKED: "New-session defaults are locked: Managed by harness configuration.",
  REVISION_MISMATCH: "Someone else changed these settings first.",
  PAYLOAD_TOO_LARGE: "That value is too large.",
  STORE_UNAVAILABLE: "The settings store is unavailable. Try again in a moment.",
  OUTCOME_UNKNOWN: "The settings store did not answer in time, so this change may or may not have been saved. Check the values before trying again.",
  PERMISSION_DENIED: "Your token's role is not allowed to do that.",
  SCHEMA_VIOLATED: "Stored values break that schema.",
  UNAUTHENTICATED: "This service needs a token: enter one at the top of the page.",
};

/** A message a person can act on, for any failure. */
export function describeError(err: unknown): string {
  if (err instanceof SettingsError) {
    if (err.reason === "INVALID_REQUEST") {
      const issues = err.issues.map((i) => `${i.pointer ?? i.path}${i.pointer ?? i.path ? ": " : ""}${i.message}`).join("; ");
      return `Invalid value: ${issues || err.message}`;
    }
    if (err.reason && MESSAGES[err.reason]) return MESSAGES[err.reason]!;
    if (err.code === 14) return MESSAGES.STORE_UNAVAILABLE!;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export const reasonOf = (err: unknown) => (err instanceof SettingsError ? err.reason : undefined);
