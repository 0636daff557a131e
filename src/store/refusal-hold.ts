// A store that refused a write (Redis out of memory or read-only, a full
// disk under SQLite) is not ready for a while, even if a small probe would
// pass where real writes fail: /readyz answers 503 until REFUSAL_HOLD_MS
// after the last refusal. One log line per hold says why, not one per write.
import type { DomainError } from "../domain/errors.js";
import type { Logger } from "../observe/log.js";

export const REFUSAL_HOLD_MS = 5000;

export class RefusalHold {
  private last?: { error: DomainError; at: number };

  constructor(
    private readonly log: Logger | undefined,
    private readonly store: string,
    private readonly message: string,
  ) {}

  refused(error: DomainError): void {
    if (!this.holding()) this.log?.warn({ store: this.store, cause: error.message }, this.message);
    this.last = { error, at: Date.now() };
  }

  /** Throws the last refusal while it holds. */
  check(): void {
    if (this.holding()) throw this.last!.error;
  }

  private holding(): boolean {
    return this.last !== undefined && Date.now() - this.last.at < REFUSAL_HOLD_MS;
  }
}
