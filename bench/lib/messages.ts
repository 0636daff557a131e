// The gRPC messages the bench sends, encoded once: paths, frames, and the
// distinct writes that make every call of a write scenario a real change.
import { create, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { NoopRequestSchema } from "../../gen/codexmanager/bench/v1/bench_pb.js";
import { GetSettingsRequestSchema, SetSettingsRequestSchema } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { grpcFrame } from "./clients.js";

export const PATHS = {
  noop: "/codexmanager.bench.v1.BenchService/Noop",
  get: "/codexmanager.settings.v1.SettingsService/GetSettings",
  set: "/codexmanager.settings.v1.SettingsService/SetSettings",
};

export const numberValue = (v: number) => create(ValueSchema, { kind: { case: "numberValue", value: v } });

export const setFrame = (sessionId: string, key: string, v: number): Buffer =>
  grpcFrame(toBinary(SetSettingsRequestSchema, create(SetSettingsRequestSchema, { sessionId, update: { case: "entry", value: { key, value: numberValue(v) } } })));

export const getFrame = (sessionId: string, key?: string): Buffer => grpcFrame(toBinary(GetSettingsRequestSchema, create(GetSettingsRequestSchema, { sessionId, key })));

export const noopFrame = grpcFrame(toBinary(NoopRequestSchema, create(NoopRequestSchema)));

/**
 * How many distinct frames a write run cycles through. Far more than the calls in flight (256 at
 * most), so no frame is ever in flight twice, and at least two per session written, so a frame
 * sent again after the cycle wraps still changes the value its session holds.
 */
export const DISTINCT = 1024;

/**
 * Distinct writes for run number `seq`: frame i sets key "k" of sessions[i % n] to seq * DISTINCT + i.
 * No value repeats within a run or across runs, so every call changes the map.
 */
export const distinctSets = (sessions: string[]) => (seq: number): Buffer[] =>
  Array.from({ length: DISTINCT }, (_, i) => setFrame(sessions[i % sessions.length]!, "k", seq * DISTINCT + i));
