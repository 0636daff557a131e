// Plain HTTP calls to the REST routes, as codex-manager's clients make them.
import { randomUUID } from "node:crypto";
import { expect } from "vitest";

/** All four controls, in codex-manager's spelling. */
export const CONTROLS = { model: "gpt-5", approvalPolicy: "on-request", networkAccess: "enabled", filesystemSandbox: "workspace-write" };
export const newId = () => `r-${randomUUID()}`;
export const settingsPath = (id: string) => `/api/sessions/${id}/settings`;
export interface RestReply {
  status: number;
  body: any;
  headers: Headers;
}

export function restClient(baseUrl: string) {
  return async function rest(method: string, path: string, body?: unknown, init: { raw?: string; headers?: Record<string, string> } = {}): Promise<RestReply> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body !== undefined || init.raw !== undefined ? { "content-type": "application/json", ...init.headers } : init.headers,
      body: init.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the test will say so.
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

export type Rest = ReturnType<typeof restClient>;

export const enc = encodeURIComponent;

/** Creates a session (cwd /w, and `extra`) and answers its id. */
export async function createSession(rest: Rest, extra: Record<string, unknown> = {}): Promise<string> {
  const sessionId = newId();
  const res = await rest("POST", "/api/sessions", { sessionId, cwd: "/w", ...extra });
  expect(res.status).toBe(200);
  return sessionId;
}
