// codex-manager's CLI profile file, shared with the Python client:
// $XDG_CONFIG_HOME/codex-manager/cli/config.json, overridden by
// CODEX_MANAGER_API_BASE and CODEX_MANAGER_API_PREFIX.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Endpoint {
  baseUrl: string;
  apiPrefix: string;
}

const DEFAULT: Endpoint = { baseUrl: "http://127.0.0.1:8080", apiPrefix: "/api" };

export function profilePath(env = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "codex-manager", "cli", "config.json");
}

export function loadEndpoint(profile?: string, env = process.env): Endpoint {
  let endpoint = DEFAULT;
  const path = profilePath(env);
  if (existsSync(path)) {
    const file = JSON.parse(readFileSync(path, "utf8")) as {
      currentProfile?: string;
      profiles?: Record<string, Partial<Endpoint>>;
    };
    const name = profile ?? file.currentProfile ?? "local";
    const found = file.profiles?.[name];
    if (!found && profile !== undefined) throw new Error(`no profile "${name}" in ${path}`);
    endpoint = { baseUrl: found?.baseUrl ?? DEFAULT.baseUrl, apiPrefix: found?.apiPrefix ?? DEFAULT.apiPrefix };
  } else if (profile !== undefined && profile !== "local") {
    throw new Error(`no profile "${profile}": ${path} does not exist`);
  }
  return {
    baseUrl: env.CODEX_MANAGER_API_BASE || endpoint.baseUrl,
    apiPrefix: env.CODEX_MANAGER_API_PREFIX || endpoint.apiPrefix,
  };
}
