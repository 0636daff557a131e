// Watchers that stop reading: they take `created`, then read nothing until
// told to, so the server sees a client whose socket buffers are full. On
// resume they read what is left and report how the stream ended.
import http from "node:http";
import http2 from "node:http2";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, fromJsonString, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { ErrorDetailSchema } from "../../gen/codexmanager/settings/v1/errors_pb.js";
import { WatchSettingsRequestSchema, WatchSettingsResponseSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import type { Clients } from "./server.js";

export interface Remainder {
  /** Revisions of the changes read after the pause, in order. */
  revisions: number[];
  /** How the stream ended: a Connect code and ErrorDetail reason, or "end" if it just ended. */
  ended: string;
}

export interface PausedWatch {
  /** The revision of the `created` message. */
  created: number;
  resume(): Promise<Remainder>;
  stop(): void;
}

const endedBy = (err: unknown): string => {
  if (!(err instanceof ConnectError)) return `not a ConnectError: ${String(err)}`;
  return `${Code[err.code]} ${err.findDetails(ErrorDetailSchema)[0]?.reason ?? ""}`.trim();
};

/**
 * Over a generated client whose iterator is simply not pulled. Over HTTP/1.1
 * (Connect JSON, gRPC-Web) that stops the socket; connect-node's HTTP/2
 * client reads ahead regardless, so for HTTP/2 see pausedH2.
 */
export async function pausedWatch(c: Clients, sessionId: string): Promise<PausedWatch> {
  const abort = new AbortController();
  const stream = c.settings.watchSettings({ sessionId }, { signal: abort.signal })[Symbol.asyncIterator]();
  const first = await stream.next();
  if (first.done || !first.value.created) throw new Error("the watch did not open with created");
  return {
    created: Number(first.value.revision),
    async resume() {
      const revisions: number[] = [];
      try {
        for (let r = await stream.next(); !r.done; r = await stream.next()) {
          if (r.value.entry) revisions.push(Number(r.value.entry.revision));
        }
        return { revisions, ended: "end" };
      } catch (err) {
        return { revisions, ended: endedBy(err) };
      }
    },
    stop: () => abort.abort(),
  };
}

/** Over Server-Sent Events: the response is paused once `event: created` has arrived. */
export function pausedSse(baseUrl: string, sessionId: string): Promise<PausedWatch> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}/api/sessions/${encodeURIComponent(sessionId)}/settings/events`, { agent: false }, (res) => {
      let text = "";
      const onData = (chunk: Buffer) => {
        text += chunk.toString();
        const created = /event: created\ndata: \{"revision":(\d+)\}\n\n/.exec(text);
        if (!created) return;
        res.off("data", onData);
        res.pause();
        resolve({
          created: Number(created[1]),
          resume: () =>
            new Promise<Remainder>((done) => {
              res.on("data", (more: Buffer) => (text += more.toString()));
              const finish = () => {
                const events = text.split("\n\n");
                const revisions = events.filter((e) => e.includes("event: change")).map((e) => Number(/^id: (\d+)/m.exec(e)![1]));
                const error = events.find((e) => e.startsWith("event: error"));
                const body = error ? (JSON.parse(error.split("\ndata: ")[1]!) as { code?: string; reason?: string }) : undefined;
                done({ revisions, ended: body ? `${body.code} ${body.reason ?? ""}`.trim() : "end" });
              };
              res.once("end", finish);
              res.once("error", finish);
              res.resume();
            }),
          stop: () => req.destroy(),
        });
      };
      res.on("data", onData);
    });
    req.once("error", reject);
  });
}

/** Enveloped messages (flags, length, payload) in a buffer, and what is left over. */
function envelopes(buffer: Buffer): { messages: { flags: number; payload: Buffer }[]; rest: Buffer } {
  const messages: { flags: number; payload: Buffer }[] = [];
  let at = 0;
  while (buffer.length - at >= 5 && buffer.length - at >= 5 + buffer.readUInt32BE(at + 1)) {
    const length = buffer.readUInt32BE(at + 1);
    messages.push({ flags: buffer[at]!, payload: buffer.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return { messages, rest: buffer.subarray(at) };
}

/**
 * The wires pausedH2 speaks: gRPC and Connect with protobuf (the fast path), and gRPC with JSON and
 * Connect with gzip'd answers (connect-node's).
 */
export type H2Wire = "grpc" | "connect" | "grpc-json" | "connect-gzip";

const WIRE_HEADERS: Record<H2Wire, http2.OutgoingHttpHeaders> = {
  grpc: { "content-type": "application/grpc", te: "trailers" },
  connect: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
  "grpc-json": { "content-type": "application/grpc+json", te: "trailers" },
  "connect-gzip": { "content-type": "application/connect+proto", "connect-protocol-version": "1", "connect-content-encoding": "gzip", "connect-accept-encoding": "gzip" },
};

/** Over raw HTTP/2: the stream is paused, so no WINDOW_UPDATE is sent. */
export function pausedH2(baseUrl: string, sessionId: string, wire: H2Wire): Promise<PausedWatch> {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const json = wire === "grpc-json";
  const request = create(WatchSettingsRequestSchema, { sessionId });
  const body = json ? Buffer.from(JSON.stringify({ sessionId })) : Buffer.from(toBinary(WatchSettingsRequestSchema, request));
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), body]);
  frame.writeUInt32BE(body.length, 1);
  const stream = session.request({ ":method": "POST", ":path": "/codexmanager.settings.v1.SettingsService/WatchSettings", ...WIRE_HEADERS[wire] });
  stream.end(frame);
  let pending: Buffer = Buffer.alloc(0);
  const revisions: number[] = [];
  let ended = "end";
  let created = -1;
  const take = (chunk: Buffer) => {
    const { messages, rest } = envelopes(Buffer.concat([pending, chunk]));
    pending = rest;
    for (const m of messages) {
      const payload = m.flags & 0b1 ? gunzipSync(m.payload) : m.payload;
      if (m.flags & endStreamFlag) {
        const error = endStreamFromJson(payload).error;
        if (error) ended = endedBy(error);
        continue;
      }
      const message = json ? fromJsonString(WatchSettingsResponseSchema, payload.toString()) : fromBinary(WatchSettingsResponseSchema, payload);
      if (message.created) created = Number(message.revision);
      else if (message.entry) revisions.push(Number(message.entry.revision));
    }
  };
  stream.on("trailers", (trailers) => {
    const error = findTrailerError(new Headers(Object.entries(trailers).filter(([k]) => !k.startsWith(":")).map(([k, v]) => [k, String(v)])));
    if (error) ended = endedBy(error);
  });
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      take(chunk);
      if (created < 0) return;
      stream.off("data", onData);
      stream.pause();
      resolve({
        created,
        resume: () =>
          new Promise<Remainder>((done) => {
            stream.on("data", take);
            stream.once("close", () => {
              session.close();
              done({ revisions, ended: stream.rstCode ? `reset ${stream.rstCode}` : ended });
            });
            stream.resume();
          }),
        stop: () => session.destroy(),
      });
    };
    stream.on("data", onData);
    stream.once("error", reject);
  });
}
