// The sessions every scenario reads and writes, created through the
// service's own clients before the first round.
import { fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SessionService } from "../../gen/codexmanager/settings/v1/session_pb.js";
import { GetSettingsResponseSchema, SettingsService } from "../../gen/codexmanager/settings/v1/settings_pb.js";
import { getFrame, numberValue, PATHS } from "./messages.js";
import type { Server } from "./servers.js";

const TEN_KEYS = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`key${i}`, { n: i, text: "value" }]));
/** A ~400-byte JSON string per key: 10,000 of them make a map of about 4 MB (the 4 MiB limit holds it). */
const bigValue = (i: number) => `v${i}-`.padEnd(400, "abcdefghijklmnopqrstuvwxyz0123456789");

/** The 16 sessions (and etcd keys) the durable-write scenarios spread their writes over. */
export const DURABLE_KEYS = Array.from({ length: 16 }, (_, i) => `bench-w${i}`);

/** Creates the sessions on a service server; answers the size of the 10,000-key map's GetSettings answer. */
export async function populate(s: Server): Promise<number> {
  const t = createGrpcTransport({ baseUrl: s.url });
  const sessions = createClient(SessionService, t);
  const settings = createClient(SettingsService, t);
  const ids =
    s.id === "redis"
      ? ["bench-set", "bench-get", "bench-big", "bench-raw", "bench-small", "bench-watch"]
      : ["bench-set", "bench-get", "bench-big", ...DURABLE_KEYS];
  for (const sessionId of ids) {
    await sessions.createSession({ sessionId });
    if (sessionId !== "bench-big") await settings.setSettings({ sessionId, update: { case: "object", value: { settings: TEN_KEYS } } });
  }
  // 9,999 big keys plus the key every write sets ("k"): the map sits at the 10,000-key limit.
  for (let batch = 0; batch < 10; batch++) {
    const part: Record<string, string> = {};
    for (let i = batch * 1000; i < Math.min(9999, (batch + 1) * 1000); i++) part[`key${String(i).padStart(4, "0")}`] = bigValue(i);
    await settings.setSettings({ sessionId: "bench-big", update: { case: "object", value: { settings: part } } });
  }
  await settings.setSettings({ sessionId: "bench-big", update: { case: "entry", value: { key: "k", value: numberValue(0) } } });
  const big = await s.grpc.ok(PATHS.get, getFrame("bench-big"));
  const keys = Object.keys(fromBinary(GetSettingsResponseSchema, big.message).settings ?? {}).length;
  if (keys !== 10_000) throw new Error(`bench-big holds ${keys} keys on ${s.id}, not 10,000`);
  return big.message.length;
}
