// Which change feed a write appends to (lua/includes/feed.lua). One Redis
// (or Sentinel) keeps one feed. Redis Cluster keeps one per shard: its keys
// take the hash tag of the lowest slot the shard's master serves
// (./slots.ts), so they live on the shard's node beside every session it
// holds, and a failover (a replica taking over the same slots) keeps them.
// The shard's name in cursors is that tag. Moving slots between shards
// (resharding) names new feeds: watchers then list again (README).
import { Cluster, type Redis } from "ioredis";
import { errors } from "../../domain/errors.js";
import type { RedisKeys } from "./keys.js";
import { slotOf, tagForSlot } from "./slots.js";

export interface FeedShard {
  /** The shard's name in cursors: "" outside Redis Cluster. */
  shard: string;
  seq: string;
  log: string;
  /** The shard's schema generation (lua/includes/schema.lua). */
  schemaGen: string;
}

export class FeedShards {
  private readonly single?: FeedShard;
  /** Cluster: master node key -> its shard's feed, rebuilt when a master appears that it does not know. */
  private byMaster = new Map<string, FeedShard>();

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: RedisKeys,
  ) {
    if (!(redis instanceof Cluster)) this.single = { shard: "", ...keys.feed("feed") };
  }

  /** The feed that a write to the tuple holding `key` appends to. */
  of(key: string): FeedShard {
    if (this.single) return this.single;
    const master = (this.redis as Cluster).slots[slotOf(key)]?.[0];
    if (master === undefined) throw errors.unavailable("the Redis Cluster's slots are not known yet");
    if (!this.byMaster.has(master)) this.rebuild();
    return this.byMaster.get(master)!;
  }

  /** Every shard's feed. */
  all(): FeedShard[] {
    if (this.single) return [this.single];
    this.rebuild();
    return [...new Map([...this.byMaster.values()].map((f) => [f.shard, f])).values()];
  }

  /** By shard name, for a reader that was given one. */
  named(shard: string): FeedShard | undefined {
    return this.all().find((f) => f.shard === shard);
  }

  private rebuild(): void {
    const lowest = new Map<string, number>();
    (this.redis as Cluster).slots.forEach((nodes, slot) => {
      const master = nodes?.[0];
      if (master !== undefined && !lowest.has(master)) lowest.set(master, slot);
    });
    this.byMaster = new Map([...lowest].map(([master, slot]) => {
      const tag = tagForSlot(slot);
      return [master, { shard: tag, ...this.keys.feed(tag) }];
    }));
  }
}
