// The pub/sub side of the Redis store: one subscriber connection per process,
// shared by every listener, and the rule that keeps watches whole. A change
// event can be missed, and then every listener hears "unavailable" (a watch
// ends, and its client resumes from history with fromRevision), when:
//   - the subscriber connection drops: what was published meanwhile is gone.
//     It is never reconnected and resubscribed behind the listeners' back
//     (ioredis's Cluster subscriber does that silently); the next subscribe
//     opens a new connection, on Redis Cluster to a live master;
//   - on Redis Cluster, a connection of the store to a node drops after it was
//     up: a master answers a write before it forwards the write's event to the
//     other nodes over the cluster bus, so a master that dies can take events
//     of acknowledged writes with it, wherever our subscriber is.
// A silent gap is the one outcome a watcher cannot detect; an extra
// "unavailable" only costs a resume.
import { Cluster, type Redis } from "ioredis";
import type { FeedEvent, StoreEvent } from "../../domain/types.js";
import { errors } from "../../domain/errors.js";
import { deliver, type Unsubscribe } from "../store.js";
import { quit } from "./connection.js";
import { markLostAfterSend } from "./call-budget.js";

/** The name the subscriber connection carries in CLIENT LIST. */
const SUBSCRIBER_NAME = "settings-subscriber";

interface Channel<E> {
  listeners: Set<(event: E) => void>;
  /** Resolves when Redis acknowledged the SUBSCRIBE (or PSUBSCRIBE). */
  ready: Promise<void>;
}

/**
 * Channels by name (SUBSCRIBE: one scope's events), patterns (PSUBSCRIBE: the
 * change feed's), or signals (SUBSCRIBE to a channel whose messages only say
 * "something changed": the schema registry's).
 */
type Kind = "channels" | "patterns" | "signals";
/** What a signal's listener hears: a message came, or messages may have been missed. */
export type Signal = { type: "signal" } | { type: "unavailable" };
type EventOf<K extends Kind> = K extends "channels" ? StoreEvent : K extends "patterns" ? FeedEvent : Signal;

/** One subscriber connection and what is subscribed on it; replaced as a whole when it drops. */
interface Connection {
  redis: Redis;
  up: Promise<void>;
  channels: Map<string, Channel<StoreEvent>>;
  patterns: Map<string, Channel<FeedEvent>>;
  signals: Map<string, Channel<Signal>>;
}

/** Runs one Redis command within the store's budget and outcome rules. */
type Run = <T>(fn: () => Promise<T>) => Promise<T>;

export class Subscriptions {
  private current?: Connection;

  constructor(
    private readonly source: Redis | Cluster,
    private readonly parse: { channels: (message: string) => StoreEvent | undefined; patterns: (message: string) => FeedEvent | undefined },
    private readonly run: Run,
  ) {
    if (source instanceof Cluster) {
      for (const node of source.nodes("all")) this.watchNode(node);
      source.on("+node", (node: Redis) => this.watchNode(node));
    }
  }

  /** One scope's events (SUBSCRIBE `name`). */
  subscribe(name: string, listener: (event: StoreEvent) => void): Promise<Unsubscribe> {
    return this.join("channels", name, listener);
  }

  /** Every message on channel `name`, as a bare signal (SUBSCRIBE). */
  subscribeSignal(name: string, listener: (event: Signal) => void): Promise<Unsubscribe> {
    return this.join("signals", name, listener);
  }

  /** Every event whose channel matches `pattern` (PSUBSCRIBE), as the change feed hears them. */
  subscribePattern(pattern: string, listener: (event: FeedEvent) => void): Promise<Unsubscribe> {
    return this.join("patterns", pattern, listener);
  }

  private async join<K extends Kind>(kind: K, name: string, listener: (event: EventOf<K>) => void): Promise<Unsubscribe> {
    const connection = this.connection();
    await this.run(() => connection.up);
    const table = connection[kind] as Map<string, Channel<EventOf<K>>>;
    const redis = connection.redis;
    let channel = table.get(name);
    if (!channel) {
      // Later listeners of the same channel wait for the same acknowledgement.
      const subscribing = kind === "patterns" ? redis.psubscribe(name) : redis.subscribe(name);
      const created: Channel<EventOf<K>> = { listeners: new Set(), ready: this.run(() => subscribing).then(() => undefined) };
      table.set(name, created);
      created.ready.catch(() => {
        if (table.get(name) === created) table.delete(name);
      });
      channel = created;
    }
    const joined = channel;
    joined.listeners.add(listener);
    const unsubscribe = () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && table.get(name) === joined) {
        table.delete(name);
        (kind === "patterns" ? redis.punsubscribe(name) : redis.unsubscribe(name)).catch(() => {});
      }
    };
    try {
      await joined.ready;
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  /** Tells every listener that events may have been missed. */
  lost(): void {
    const connection = this.current;
    if (!connection) return;
    for (const channel of [...connection.channels.values()]) deliver(channel.listeners, { type: "unavailable" });
    for (const pattern of [...connection.patterns.values()]) deliver(pattern.listeners, { type: "unavailable" });
    for (const signal of [...connection.signals.values()]) deliver(signal.listeners, { type: "unavailable" });
  }

  async close(quitWithin: number): Promise<void> {
    const connection = this.current;
    this.current = undefined;
    if (connection) await quit(connection.redis, quitWithin);
  }

  /** The current subscriber connection, or a new one. */
  private connection(): Connection {
    if (this.current) return this.current;
    const redis = this.newConnection();
    markLostAfterSend(redis);
    const connection: Connection = { redis, up: redis.connect(), channels: new Map(), patterns: new Map(), signals: new Map() };
    connection.up.catch(() => {});
    redis.on("error", () => {});
    redis.on("message", (name: string, message: string) => {
      const signal = connection.signals.get(name);
      if (signal) deliver<Signal>(signal.listeners, { type: "signal" });
      const channel = connection.channels.get(name);
      const event = channel && this.parse.channels(message);
      if (event) deliver(channel.listeners, event);
    });
    redis.on("pmessage", (pattern: string, _name: string, message: string) => {
      const channel = connection.patterns.get(pattern);
      const event = channel && this.parse.patterns(message);
      if (event) deliver(channel.listeners, event);
    });
    redis.once("close", () => {
      if (this.current !== connection) return;
      this.lost();
      this.current = undefined;
      redis.disconnect();
    });
    this.current = connection;
    return connection;
  }

  /** Never reconnects by itself (see above); on a cluster, any master hears every PUBLISH. */
  private newConnection(): Redis {
    const options = { lazyConnect: true, retryStrategy: null, autoResubscribe: false, enableOfflineQueue: false, connectionName: SUBSCRIBER_NAME };
    if (!(this.source instanceof Cluster)) return this.source.duplicate(options);
    const masters = this.source.nodes("master");
    const up = masters.filter((m) => m.status === "ready");
    const pick = (from: Redis[]) => from[Math.floor(Math.random() * from.length)];
    const node = pick(up.length > 0 ? up : masters);
    if (!node) throw errors.unavailable("no Redis Cluster master is known");
    return node.duplicate({ ...options, readOnly: false });
  }

  /** A store connection to a cluster node that drops after being up: see the header. */
  private watchNode(node: Redis): void {
    let up = node.status === "ready";
    node.on("ready", () => (up = true));
    node.on("close", () => {
      if (!up) return;
      up = false;
      this.lost();
    });
  }
}
