// Whether this server should be sent traffic: the store answers (on Redis it
// also takes writes, with the same dataset) and the server is not draining.
// GET /readyz and grpc.health.v1.Health both read this one source, so a load
// balancer and a gRPC probe never disagree.
//
// A check pings the store; checks that overlap share one ping. While anyone
// watches the state (a health Watch stream), the store is checked every
// `pollMs` and each change is pushed to every watcher.

export type ReadinessListener = (ready: boolean) => void;

export interface Readiness {
  /** Checks now and answers whether the server is ready. */
  check(): Promise<boolean>;
  /** The state at once, then each change of it, until the returned function is called. */
  watch(listener: ReadinessListener): () => void;
  /** The server is shutting down: not ready from now on (watchers hear it at once). */
  drain(): void;
}

export const READINESS_POLL_MS = 1000;

export function createReadiness(ping: () => Promise<void>, pollMs = READINESS_POLL_MS): Readiness {
  let draining = false;
  /** The last state found, heard by watchers when it changes. */
  let last: boolean | undefined;
  let inFlight: Promise<boolean> | undefined;
  const listeners = new Set<ReadinessListener>();
  let timer: NodeJS.Timeout | undefined;

  const settle = (ready: boolean): boolean => {
    if (ready !== last) {
      last = ready;
      for (const listener of listeners) listener(ready);
    }
    return ready;
  };

  const check = (): Promise<boolean> => {
    if (draining) return Promise.resolve(settle(false));
    inFlight ??= ping().then(
      () => true,
      () => false,
    ).then((ready) => {
      inFlight = undefined;
      // A drain that began during the ping wins.
      return settle(ready && !draining);
    });
    return inFlight;
  };

  return {
    check,
    watch(listener) {
      listeners.add(listener);
      if (last !== undefined) listener(last);
      void check();
      timer ??= setInterval(() => void check(), pollMs).unref();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    drain() {
      draining = true;
      settle(false);
    },
  };
}
