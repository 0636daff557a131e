// Dataset identity: no silent split brain when Redis comes back empty.
// At start the service reads (or, on a new dataset, writes) a random dataset
// id under one key. Whenever the connection is lost, every store call is
// refused until the connection is back and the id reads the same again. If
// it does not (a primary restarted without its data, a wrong server behind
// the address), the store stays refused and /readyz answers 503 until an
// operator restarts the service, which accepts the dataset it then finds.
import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { errors } from "../../domain/errors.js";

/** How soon a refused read of the id is tried again on the same connection. */
const VERIFY_RETRY_MS = 200;

export class DatasetIdentity {
  private id?: string;
  private state: "verified" | "verifying" | "diverged" = "verifying";

  constructor(private readonly key: string) {}

  /** Reads the dataset's id, creating it on a new dataset; answers whether it was created. */
  async claim(client: Redis | Cluster): Promise<boolean> {
    const created = (await client.set(this.key, randomUUID(), "NX")) === "OK";
    this.id = (await client.get(this.key)) ?? undefined;
    this.state = "verified";
    return created;
  }

  /** Follows the client: refuse from a disconnect until the id is read back unchanged. */
  watch(client: Redis | Cluster, onDiverged?: () => void): void {
    client.on("close", () => {
      if (this.state === "verified") this.state = "verifying";
    });
    client.on("ready", () => this.verify(client, onDiverged));
  }

  /**
   * Reads the id back. Refused on a live connection (LOADING from a primary
   * being turned into a replica, NOPERM, MASTERDOWN), it is read again: the
   * store refuses every call unsent meanwhile, so nothing else would make the
   * connection drop and say "ready" again, and it would stay refused for good.
   */
  private verify(client: Redis | Cluster, onDiverged?: () => void): void {
    if (this.state !== "verifying") return;
    client.get(this.key).then(
      (id) => {
        if (this.state !== "verifying") return;
        this.state = id === this.id ? "verified" : "diverged";
        if (this.state === "diverged") onDiverged?.();
      },
      // Refused on a connection still up: read again soon. Dropped: its next "ready" reads again.
      () => {
        if (client.status === "ready") setTimeout(() => client.status === "ready" && this.verify(client, onDiverged), VERIFY_RETRY_MS).unref();
      },
    );
  }

  /** Throws STORE_UNAVAILABLE while the dataset is unverified or has changed. */
  assertSame(): void {
    if (this.state === "verified") return;
    if (this.state === "diverged") {
      throw errors.unavailable(
        "the Redis dataset changed under this server (its dataset id is gone or different: the data was lost or replaced); " +
          "nothing is served from it until the service is restarted, which accepts the dataset it finds",
      );
    }
    throw errors.unavailable("reconnecting to Redis");
  }
}
