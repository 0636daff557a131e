// The scenarios of the CPU-per-call targets (T1..T5) and the SQLite figures:
// each runs once per round, in the 4 x 32 or the 16 x 1 rotation (HTTP/1.1's
// 16 connections go with 16 x 1), beside the two no-op anchors. Every write
// changes the map (gRPC writes through grpc-load, HTTP/1.1 writes with a
// counter in the body), but for the one explicit `unchanged` row.
import { distinctSets, getFrame, noopFrame, PATHS, setFrame } from "../lib/messages.js";
import { H1, M, S, type Load, type Scenario } from "../lib/scenario.js";

const h2load = (path: string, body: Buffer): Load => ({ kind: "h2load", path, body });
const grpcWrites = (sessionId: string): Load => ({ kind: "grpc-load", path: PATHS.set, frames: distinctSets([sessionId]) });
const http1 = (path: string, body: string): Load => ({ kind: "wrk", requests: { slots: [{ path, body }] } });
const connectSet = (sessionId: string) => http1(PATHS.set, `{"sessionId":"${sessionId}","entry":{"key":"k","value":%d}}`);

export const CPU_SCENARIOS: Scenario[] = [
  { id: "bare", label: "A: bare node:http2 gRPC no-op", server: "bare", load: h2load(PATHS.noop, noopFrame), shapes: [S, M] },
  // The gRPC write load generator against the floor: its ceiling in calls/s beside h2load's (the row above), and
  // whether A's CPU per call moves with the client.
  { id: "bare-grpc-load", label: "A: bare node:http2 gRPC no-op, driven by grpc-load", server: "bare", load: { kind: "grpc-load", path: PATHS.noop, frames: () => [noopFrame] }, shapes: [S] },
  { id: "grpcjs", label: "B: @grpc/grpc-js no-op", server: "grpcjs", load: h2load(PATHS.noop, noopFrame), shapes: [S, M] },
  { id: "noop-grpc", label: "BenchService/Noop, gRPC", server: "redis", load: h2load(PATHS.noop, noopFrame), shapes: [S, M], procedure: ["grpc", "Noop"] },
  { id: "set-grpc", label: "SetSettings 1 key, gRPC, Redis", server: "redis", load: grpcWrites("bench-set"), shapes: [S, M], procedure: ["grpc", "SetSettings"], writes: ["bench-set"] },
  {
    id: "set-grpc-unchanged",
    label: "SetSettings 1 key, gRPC, Redis, the same value every call (unchanged)",
    server: "redis",
    load: h2load(PATHS.set, setFrame("bench-set", "k", 1)),
    shapes: [S],
    procedure: ["grpc", "SetSettings"],
    writes: ["bench-set"],
    unchanged: true,
  },
  { id: "get-grpc", label: "GetSettings 10 keys, gRPC, Redis", server: "redis", load: h2load(PATHS.get, getFrame("bench-get")), shapes: [S, M], procedure: ["grpc", "GetSettings"] },
  { id: "set-big-grpc", label: "SetSettings 1 key into 10,000, gRPC, Redis", server: "redis", load: grpcWrites("bench-big"), shapes: [S], procedure: ["grpc", "SetSettings"], writes: ["bench-big"] },
  { id: "noop-json", label: "BenchService/Noop, Connect JSON h1", server: "redis", load: http1(PATHS.noop, "{}"), shapes: [H1], procedure: ["connect", "Noop"] },
  { id: "set-json", label: "SetSettings 1 key, Connect JSON h1, Redis", server: "redis", load: connectSet("bench-set"), shapes: [H1], procedure: ["connect", "SetSettings"], writes: ["bench-set"] },
  { id: "set-big-json", label: "SetSettings 1 key into 10,000, Connect JSON h1, Redis", server: "redis", load: connectSet("bench-big"), shapes: [H1], procedure: ["connect", "SetSettings"], writes: ["bench-big"] },
  { id: "set-rest", label: "SetSettings 1 key, REST h1, Redis", server: "redis", load: http1("/api/sessions/bench-set/settings", '{"key":"k","value":%d}'), shapes: [H1], procedure: ["rest", "SetSettings"], writes: ["bench-set"] },
  { id: "set-grpc-sqlite", label: "SetSettings 1 key, gRPC, SQLite", server: "sqlite", load: grpcWrites("bench-set"), shapes: [S], procedure: ["grpc", "SetSettings"], writes: ["bench-set"] },
  { id: "get-grpc-sqlite", label: "GetSettings 10 keys, gRPC, SQLite", server: "sqlite", load: h2load(PATHS.get, getFrame("bench-get")), shapes: [S], procedure: ["grpc", "GetSettings"] },
  { id: "set-json-sqlite", label: "SetSettings 1 key, Connect JSON h1, SQLite", server: "sqlite", load: connectSet("bench-set"), shapes: [H1], procedure: ["connect", "SetSettings"], writes: ["bench-set"] },
  {
    id: "get-big-grpc",
    label: "GetSettings of the 10,000-key map (~4 MiB), gRPC, Redis",
    server: "redis",
    load: h2load(PATHS.get, getFrame("bench-big")),
    shapes: [M],
    procedure: ["grpc", "GetSettings"],
    profileOnly: 160,
  },
  { id: "set-big-json-sqlite", label: "SetSettings 1 key into 10,000, Connect JSON h1, SQLite", server: "sqlite", load: connectSet("bench-big"), shapes: [H1], procedure: ["connect", "SetSettings"], writes: ["bench-big"] },
];
