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

  /** A change feed's counter and stream (./feed-shards.ts picks which), one hash tag. */
  feed(tag: string): { seq: string; log: string } {
    return { seq: `${this.prefix}{${tag}}:feed-seq`, log: `${this.prefix}{${tag}}:feed` };
  }

  /** The prefix of every event channel, for recognising our messages. */
  channelPattern(): string {
    // The prefix is literal: its glob characters are escaped.
    return `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*:events`;
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
