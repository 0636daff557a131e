// Following a live stream from a page: "Connecting", then "Live" only once
// the service says the watch is established, "Live updates paused" when it
// breaks (or ends by itself: the server went away cleanly), and another try
// RETRY_MS later. `follow` reads the stream; it resumes from wherever the
// page got to, so nothing shown is missed or shown twice.
export type LiveState = "connecting" | "live" | "paused";

const RETRY_MS = 2000;

export interface FollowOptions {
  signal: AbortSignal;
  setLive(state: LiveState): void;
  /** Told of each break; answers true when it is final (the session is gone): no more tries. */
  failed?(err: unknown): boolean;
}

/** Starts following; answers what stops the retries (the signal stops the stream). */
export function followLive(follow: (established: () => void) => Promise<void>, options: FollowOptions): () => void {
  let retry: ReturnType<typeof setTimeout> | undefined;
  const attempt = async () => {
    options.setLive("connecting");
    try {
      await follow(() => options.setLive("live"));
      if (!options.signal.aborted) throw new Error("the watch ended");
    } catch (err) {
      if (options.signal.aborted) return;
      options.setLive("paused");
      if (options.failed?.(err)) return;
      retry = setTimeout(() => void attempt(), RETRY_MS);
    }
  };
  void attempt();
  return () => clearTimeout(retry);
}
