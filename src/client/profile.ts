// codex-manager's CLI profile file, shared with the Python client:
// $XDG_CONFIG_HOME/codex-manager/cli/config.json, overridden by
// CODEX_MANAGER_API_BASE, CODEX_MANAGER_API_PREFIX and
// CODEX_MANAGER_BEARER_TOKEN (CODEX_MANAGER_API_TOKEN is an older alias).
// A profile may carry `auth.bearer` and extra `headers`, as codex-manager's do.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Endpoint {
  baseUrl: string;
  apiPrefix: string;
  bearer?: string;
  headers: Record<string, string>;
}

interface ProfileFile {
  currentProfile?: string;
  profiles?: Record<string, { baseUrl?: string; apiPrefix?: string; auth?: { bearer?: string | null }; headers?: Record<string, unknown> }>;
}

const DEFAULT: Endpoint = { baseUrl: "http://127.0.0.1:8080", apiPrefix: "/api", headers: {} };

export function profilePath(env = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "codex-manager", "cli", "config.json");
}

export function loadEndpoint(profile?: string, env = process.env): Endpoint {
  let endpoint = DEFAULT;
  const path = profilePath(env);
  if (existsSync(path)) {
    const file = JSON.parse(readFileSync(path, "utf8")) as ProfileFile;
    const name = profile ?? file.currentProfile ?? "local";
    const found = file.profiles?.[name];
    if (!found && profile !== undefined) throw new Error(`no profile "${name}" in ${path}`);
    endpoint = {
      baseUrl: found?.baseUrl ?? DEFAULT.baseUrl,
      apiPrefix: found?.apiPrefix ?? DEFAULT.apiPrefix,
      bearer: found?.auth?.bearer || undefined,
      // As codex-manager does: only entries whose name and value are non-blank strings.
      headers: Object.fromEntries(
        Object.entries(found?.headers ?? {}).filter((e): e is [string, string] => e[0].trim() !== "" && typeof e[1] === "string" && e[1].trim() !== ""),
      ),
    };
  } else if (profile !== undefined && profile !== "local") {
    throw new Error(`no profile "${profile}": ${path} does not exist`);
  }
  return {
    baseUrl: env.CODEX_MANAGER_API_BASE || endpoint.baseUrl,
    apiPrefix: env.CODEX_MANAGER_API_PREFIX || endpoint.apiPrefix,
    bearer: env.CODEX_MANAGER_BEARER_TOKEN || env.CODEX_MANAGER_API_TOKEN || endpoint.bearer,
    headers: endpoint.headers,
  };
}
