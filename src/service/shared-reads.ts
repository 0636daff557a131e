// Concurrent whole-map reads of one scope, joined without ever answering a
// caller from a read that began before it arrived (that answer could predate
// a write the caller already saw acknowledged). A caller that finds a read
// running joins the one read queued to start after it; so however many
// readers pile up behind a change, a scope costs at most two reads at a time:
// the running one and the queued one.

const ignore = () => {};

interface Slot<T> {
  running?: Promise<T>;
  next?: Promise<T>;
}

export class SharedReads<T> {
  private readonly slots = new Map<string, Slot<T>>();

  /** The result of a read of `key` that starts no earlier than this call. */
  read(key: string, start: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = {}));
    if (slot.next) return slot.next;
    if (!slot.running) return this.run(key, slot, start);
    const queued = slot.running.then(ignore, ignore).then(() => {
      slot.next = undefined;
      return this.run(key, slot, start);
    });
    slot.next = queued;
    return queued;
  }

  /** Scopes with a read running or queued (bounded by the scopes being read at once). */
  get size(): number {
    return this.slots.size;
  }

  private run(key: string, slot: Slot<T>, start: () => Promise<T>): Promise<T> {
    const reading = start();
    slot.running = reading;
    reading
      .finally(() => {
        if (slot.running !== reading) return;
        slot.running = undefined;
        if (!slot.next) this.slots.delete(key);
      })
      .catch(ignore);
    return reading;
  }
}
