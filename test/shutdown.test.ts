// Shutdown (SIGTERM runs the same close()): every watch stream ends with
// `unavailable`, so a client can tell "resume elsewhere" from "done", on
// every protocol and path; and a connection accepted just before shutdown
// whose HTTP/2 preface comes after it began is drained like the others.
import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/codexmanager/settings/v1/errors_pb.js";
import { FALLBACK_TRANSPORTS, makeClients, startTestServer, TRANSPORTS, type TestServer } from "./support/server.js";
import { newId, watch } from "./support/watch-suite.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close().catch(() => {});
  server = undefined;
});

const reasonOf = (err: unknown) => (err instanceof ConnectError ? `${Code[err.code]} ${err.findDetails(ErrorDetailSchema)[0]?.reason ?? ""}`.trim() : String(err));

/** An SSE watch, read to its end: the text of its last event. */
async function sseWatch(url: string, sessionId: string) {
  const res = await fetch(`${url}/api/sessions/${sessionId}/settings/events`);
  const reader = res.body!.getReader();
  let text = "";
  const read = async (until: () => boolean) => {
    while (!until()) {
      const { done, value } = await reader.read();
      if (done) return;
      text += Buffer.from(value).toString();
    }
  };
  await read(() => text.includes("event: created"));
  return {
    async last(): Promise<string> {
      await read(() => false);
      return text.trim().split("\n\n").at(-1)!;
    },
  };
}

describe("on shutdown", () => {
  it("ends every watch stream with unavailable: gRPC, gRPC-Web, Connect (HTTP/1.1 and 2), connect-node's wires, and SSE", async () => {
    server = await startTestServer({ backend: "memory" });
    const sessionId = newId();
    await server.clients().sessions.createSession({ sessionId });
    const names = [...TRANSPORTS, ...FALLBACK_TRANSPORTS];
    const watches = names.map((name) => watch(makeClients(server!.url, name), { sessionId }));
    await Promise.all(watches.map((w) => w.opened));
    const sse = await sseWatch(server.url, sessionId);
    const closed = server.close();
    const ends = await Promise.all(watches.map(async (w) => (await w.done, reasonOf(w.error))));
    expect(Object.fromEntries(names.map((n, i) => [n, ends[i]]))).toEqual(Object.fromEntries(names.map((n) => [n, "Unavailable STORE_UNAVAILABLE"])));
    const last = await sse.last();
    expect(last).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(last.split("data: ")[1]!)).toMatchObject({ httpStatus: 503, code: "unavailable", message: "the server is shutting down" });
    await closed;
    server = undefined;
  });

  it("drains a connection accepted before shutdown whose HTTP/2 preface comes after it began, and keeps each call's own error", async () => {
    server = await startTestServer({ backend: "memory" });
    const socket = net.connect(server.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    // The server accepts it in its next poll for I/O: a round trip on another connection gets there after.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const started = Date.now();
    const closed = server.close();
    server = undefined;
    const c = makeClients(`http://127.0.0.1:${socket.remotePort}`, "grpc", { createConnection: () => socket });
    // An unknown session is not_found, as before shutdown, not "cancelled: the client went away".
    const err = await c.settings.getSettings({ sessionId: newId() }).then(() => undefined, (e: unknown) => e);
    expect(reasonOf(err)).toBe("NotFound SESSION_NOT_FOUND");
    // Told to go away and closed, not served until the grace (10 s) runs out.
    await closed;
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
