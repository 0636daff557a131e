// What the connection guards did, for the operator: counted by kind and
// logged at most once per window, so that an attack cannot flood the log.
import type { Logger } from "../observe/log.js";

export type AbuseKind =
  /** An HTTP/2 connection got GOAWAY for resetting too many streams (per connection or in total). */
  | "http2ResetFlood"
  /** A new HTTP/2 connection was refused while the global reset cap had tripped. */
  | "http2RefusedAfterResetFlood"
  /** An HTTP/2 connection sent headers past MAX_HEADER_LIST_BYTES before it acknowledged the server's SETTINGS. */
  | "http2HeadersTooLarge"
  /** An HTTP/1.1 connection pipelined more requests than it may have in flight. */
  | "http1PipelineFlood"
  /** At HTTP_MAX_CONNECTIONS, the oldest idle connection was closed to make room for a new one. */
  | "idleClosedAtCap"
  /** A new connection was refused at HTTP_MAX_CONNECTIONS, with none idle to make room. */
  | "connectionCap";

export class AbuseLog {
  private counts: Partial<Record<AbuseKind, number>> = {};
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly log: Logger | undefined,
    private readonly windowMs = 10_000,
  ) {}

  note(kind: AbuseKind): void {
    if (!this.log) return;
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.timer ??= setTimeout(() => this.flush(), this.windowMs).unref();
  }

  private flush(): void {
    this.timer = undefined;
    const counts = this.counts;
    this.counts = {};
    this.log?.warn({ ...counts, windowSeconds: this.windowMs / 1000 }, "connections closed or refused to protect the server");
  }
}
