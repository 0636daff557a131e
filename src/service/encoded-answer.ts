// Answers that carry their own bytes. A whole map's GetSettings answer is
// encoded by its snapshot (./settings-snapshot.ts), once, in slices that
// yield to the event loop, and shared by every reader of that revision; a
// SetSettings answer is written directly (./set-answer.ts). A
// transport that writes bytes itself (the fast path) takes them from the
// answer; any other reads the answer as the message it also is.
export type AnswerCodec = "proto" | "json";

/** Per codec, the answer's bytes (a small answer's at once); a codec left out is encoded as usual. */
export type Encoders = Partial<Record<AnswerCodec, () => Uint8Array | Promise<Uint8Array>>>;

const ENCODERS = Symbol("the answer's own encoders");

/** A message that brings its own encodings. */
export type EncodedAnswer<M extends object> = M & { readonly [ENCODERS]: Encoders };

/** `message`, carrying `encoders` (not enumerable: no encoder or copy of the message sees them). */
export function withEncoders<M extends object>(message: M, encoders: Encoders): EncodedAnswer<M> {
  return Object.defineProperty(message, ENCODERS, { value: encoders }) as EncodedAnswer<M>;
}

/** The answer's own bytes in `codec`, or undefined when it brings none. */
export function ownEncoding(message: object, codec: AnswerCodec): Uint8Array | Promise<Uint8Array> | undefined {
  return (message as Partial<EncodedAnswer<object>>)[ENCODERS]?.[codec]?.();
}
