// Small clients the driver uses between and beside the load runs: a raw
// HTTP/2 gRPC unary client (prebuilt frames in, status and bytes out, no
// decoding unless asked: h2load cannot see grpc-status, so every body is
// first checked here), plain HTTP/1.1 requests, and a reader of the server's
// own call counters (/metrics), which say whether every call of a run was ok.
import http from "node:http";
import http2 from "node:http2";

export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

export interface GrpcAnswer {
  grpcStatus: number;
  grpcMessage: string;
  /** The response message (without its 5-byte envelope). */
  message: Buffer;
  ms: number;
}

/** One HTTP/2 connection for unary gRPC calls, with a large window so that a 4 MiB answer streams at once. */
export class GrpcConnection {
  private current?: http2.ClientHttp2Session;

  constructor(readonly baseUrl: string) {}

  /** The connection, opened again when the server closed it (its idle timeout runs while the load generator works). */
  private get session(): http2.ClientHttp2Session {
    if (this.current && !this.current.closed && !this.current.destroyed) return this.current;
    const session = http2.connect(this.baseUrl, { settings: { initialWindowSize: 32 * 1024 * 1024 } });
    session.on("error", () => {});
    session.on("connect", () => session.setLocalWindowSize(64 * 1024 * 1024));
    session.unref();
    return (this.current = session);
  }

  call(path: string, frame: Buffer, timeoutMs = 10_000): Promise<GrpcAnswer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${timeoutMs}m`,
      });
      const chunks: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs + 1000);
      stream.on("response", (h) => (headers = h));
      stream.on("trailers", (t) => (trailers = t));
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      stream.on("end", () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        const status = trailers["grpc-status"] ?? headers["grpc-status"];
        resolve({
          grpcStatus: status === undefined ? -1 : Number(status),
          grpcMessage: decodeURIComponent(String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "")),
          message: body.subarray(5),
          ms: performance.now() - started,
        });
      });
      stream.end(frame);
    });
  }

  /** Like call(), but fails unless the answer is grpc-status 0. */
  async ok(path: string, frame: Buffer, timeoutMs?: number): Promise<GrpcAnswer> {
    const a = await this.call(path, frame, timeoutMs);
    if (a.grpcStatus !== 0) throw new Error(`${path} answered grpc-status ${a.grpcStatus}: ${a.grpcMessage}`);
    return a;
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
  ms: number;
}

export function httpRequest(
  url: string,
  options: { method?: string; body?: string; headers?: Record<string, string>; agent?: http.Agent; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? "GET",
        agent: options.agent,
        headers: { ...(options.body !== undefined && { "content-type": "application/json" }), ...options.headers },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within ${options.timeoutMs ?? 10_000} ms`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

/** settings_calls_total by "protocol/procedure/code" (the server counts every call it answers). */
export async function callCounts(baseUrl: string): Promise<Map<string, number>> {
  const r = await httpRequest(`${baseUrl}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  const counts = new Map<string, number>();
  for (const m of r.body.matchAll(/^settings_calls_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    counts.set(`${labels.protocol}/${labels.procedure}/${labels.code}`, Number(m[2]));
  }
  return counts;
}

/** What a run did according to the server: calls per code for one protocol and procedure. */
export function countDelta(before: Map<string, number>, after: Map<string, number>, protocol: string, procedure: string): { ok: number; failed: Record<string, number> } {
  let ok = 0;
  const failed: Record<string, number> = {};
  for (const [key, value] of after) {
    const [p, proc, code] = key.split("/");
    if (p !== protocol || proc !== procedure) continue;
    const d = value - (before.get(key) ?? 0);
    if (d === 0) continue;
    if (code === "ok") ok += d;
    else failed[code!] = d;
  }
  return { ok, failed };
}

/** Polls `probe` until it answers true (no fixed sleeps while waiting for readiness). */
export async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
