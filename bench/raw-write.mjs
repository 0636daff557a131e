// T6: the service's write function (FCALL) called straight through ioredis,
// from a process of its own (the driver pins it to core 1, beside Redis),
// with `inflight` calls in flight, while the driver reads Redis's CPU per
// call from INFO commandstats.
//   node bench/raw-write.mjs <redis-url> <prefix> <sessionId> <calls> <inflight>
// The arguments are built by the service's own mutationCall (one set of one
// key, a new value every call, so every call is a real change), and the
// functions registered by its registerScripts, on a client with the service's
// auto-pipelining. The first fifth of the calls warm up and are not timed.
// Prints "TIMED" when the timed calls start, then RESULT {"calls":..,"seconds":..,"rps":..,"changed":..}
import { Redis } from "ioredis";
import { loadConfig } from "../dist/src/config.js";
import { FeedShards } from "../dist/src/store/redis/feed-shards.js";
import { RedisKeys } from "../dist/src/store/redis/keys.js";
import { mutationCall, UNCHECKED } from "../dist/src/store/redis/mutation-call.js";
import { registerScripts } from "../dist/src/store/redis/scripts.js";

const [url, prefix, sessionId, callsText, inflightText] = process.argv.slice(2);
const calls = Number(callsText);
const inflight = Number(inflightText);
const config = loadConfig({ REDIS_URL: url, REDIS_PREFIX: prefix });
const redis = registerScripts(new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 0 }));
await redis.loadFunctions();
const keys = new RedisKeys(prefix).session(sessionId);
const feed = new FeedShards(redis, new RedisKeys(prefix)).of(keys.tuple);
const ref = { sessionId, scope: "session" };
const options = { actor: "bench", source: "bench" };
const seed = Date.now();
// No schema covers the key written; the shard's schema generation is what the functions check (a bench run registers schemas).
const schema = { ...UNCHECKED, generation: (await redis.get(feed.schemaGen)) ?? "0" };

let next = 0;
let changed = 0;
async function worker(until) {
  while (next < until) {
    const i = next++;
    const [script, args] = mutationCall(keys, feed, ref, { op: "set", key: "raw", value: seed + i }, options, config, new Date(), schema);
    const reply = await redis[script](...args);
    if (reply[0] !== 0 && reply[0] !== "0") throw new Error(`script answered ${JSON.stringify(reply)}`);
    if (reply[1] === 1) changed++;
  }
}
const warm = Math.floor(calls / 5);
await Promise.all(Array.from({ length: inflight }, () => worker(warm)));
changed = 0;
process.stdout.write("TIMED\n");
const started = performance.now();
await Promise.all(Array.from({ length: inflight }, () => worker(warm + calls)));
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`RESULT ${JSON.stringify({ calls, seconds, rps: calls / seconds, changed: changed / calls })}\n`);
redis.disconnect();
process.exit(0);
