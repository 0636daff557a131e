// What a scenario is: a server, a load (which generator, what it sends), the
// shapes it runs in, and what the server must show afterwards. The scenarios
// themselves are in bench/scenarios/.
import { SHAPES, type Shape, type WrkRequests } from "./load.js";
import type { ServerId } from "./servers.js";

export type Load =
  /** h2load repeating one gRPC frame: no-ops, reads, and the explicit unchanged write. */
  | { kind: "h2load"; path: string; body: Buffer }
  /** grpc-load.mjs cycling through distinct frames (`frames(seq)`, seq numbering the run): every write a change. */
  | { kind: "grpc-load"; path: string; frames: (seq: number) => Buffer[] }
  /** wrk over HTTP/1.1, a counter in every body. */
  | { kind: "wrk"; requests: WrkRequests };

export interface Scenario {
  id: string;
  label: string;
  server: ServerId;
  load: Load;
  shapes: Shape[];
  /** The server's call counter this scenario must move (protocol, procedure); every call must be ok. */
  procedure?: [string, string];
  /** A write scenario: the sessions it writes. Each run must change the map on >= 99 % of its calls, unless `unchanged`. */
  writes?: string[];
  /** The explicit row of writes that repeat the value just written (none of them a change). */
  unchanged?: boolean;
  /** /healthz and a one-key GetSettings on another session, probed beside every measured run. */
  probes?: boolean;
  /** The etcd comparison: its own rotation in each round, no ratio to the grpc-js anchor. */
  durable?: boolean;
  /** Runs as many calls as this scenario (its id) in the same shape: the runs of a pair compare like for like. */
  callsOf?: string;
  /** Not in the rounds; for --profile only (calls in the profiled run). */
  profileOnly?: number;
}

export interface RunDef {
  /** scenario@shape */
  key: string;
  scenario: Scenario;
  shape: Shape;
}

/** The two gRPC shapes every CPU-per-call target is measured in, and HTTP/1.1 with 16 connections. */
export const S = SHAPES.c4m32;
export const M = SHAPES.c16m1;
export const H1 = SHAPES.h1c16;

/** The anchor B run a ratio is taken against: the same shape; HTTP/1.1's 16 connections pair with 16 x 1. */
export function anchorKey(shapeId: string): string | undefined {
  if (shapeId === S.id) return `grpcjs@${S.id}`;
  if (shapeId === M.id || shapeId === H1.id) return `grpcjs@${M.id}`;
  return undefined;
}
