// Every Redis key and channel name, built in one place. All keys of one
// session share the hash tag {s:<id>} and the default tuple's share {d}, so
// each script touches one Redis Cluster slot (SPEC §6). Session ids cannot
// contain braces, so a tag never ends early.
import type { ScopeRef } from "../../domain/types.js";

export interface TupleKeys {
  /** The owning session's state; for the default tuple an unused key in its slot. */
  meta: string;
  tuple: string;
  settings: string;
  history: string;
  /** Remembered request ids → their first answer, and the order to forget them in. */
  requests: string;
  requestOrder: string;
  channel: string;
}

export class RedisKeys {
  constructor(readonly prefix: string) {}

  session(sessionId: string): TupleKeys {
    return this.tag(`{s:${sessionId}}`);
  }

  defaults(): TupleKeys {
    return this.tag("{d}");
  }

  of(ref: ScopeRef): TupleKeys {
    return ref.scope === "default" ? this.defaults() : this.session(ref.sessionId);
  }

  /** The dataset's random id (./dataset.ts), in the default tuple's slot. */
  dataset(): string {
    return `${this.prefix}{d}:dataset`;
  }

  /** An expiring key that readiness checks write, to prove Redis takes writes. */
  readinessProbe(): string {
    return `${this.prefix}{d}:ready`;
  }

  /** Sorted set of user-visible active session ids, for ListSessions. */
  sessionIndex(): string {
    return `${this.prefix}{idx}:sessions`;
  }

  /**
   * A shard's own keys, one hash tag on its node (./feed-shards.ts picks
   * which): its change feed's counter and stream, and its schema generation,
   * which every schema change moves (./schema-view.ts).
   */
  feed(tag: string): { seq: string; log: string; schemaGen: string } {
    return { seq: `${this.prefix}{${tag}}:feed-seq`, log: `${this.prefix}{${tag}}:feed`, schemaGen: `${this.prefix}{${tag}}:schema-gen` };
  }

  /** The schema registry (./schema-registry.ts), in a slot of its own; its channel tells instances it changed. */
  schemas(): { registry: string; revision: string; history: string; channel: string } {
    const base = `${this.prefix}{schemas}`;
    return { registry: `${base}:registry`, revision: `${base}:revision`, history: `${base}:history`, channel: `${base}:changes` };
  }

  /** SCAN pattern of every session's settings hash (the registry checks each one's value of a key). */
  sessionSettingsPattern(): string {
    return `${this.escapedPrefix()}{s:*}:settings`;
  }

  /** The session id in a key that sessionSettingsPattern() matched. */
  sessionOfSettings(key: string): string {
    return key.slice(this.prefix.length + 3, key.length - "}:settings".length);
  }

  /** The prefix of every event channel, for recognising our messages. */
  channelPattern(): string {
    return `${this.escapedPrefix()}*:events`;
  }

  /** The prefix in a glob pattern: literal, its glob characters escaped. */
  private escapedPrefix(): string {
    return this.prefix.replace(/[*?[\]\\]/g, "\\$&");
  }

  private tag(tag: string): TupleKeys {
    const base = `${this.prefix}${tag}`;
    return {
      meta: `${base}:meta`,
      tuple: `${base}:tuple`,
      settings: `${base}:settings`,
      history: `${base}:history`,
      requests: `${base}:requests`,
      requestOrder: `${base}:request-order`,
      channel: `${base}:events`,
    };
  }
}
