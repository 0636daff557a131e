// Plain HTTP calls to the REST routes, as codex-manager's clients make them.
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
