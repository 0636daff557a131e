// Answers whose bytes the service can build better than a generic encoder:
// the transports ask here first (by message object), so a big map is encoded
// once, in slices, and shared by every reader of the same revision.
export type EncodingCodec = "proto" | "json";

export type Encoders = Partial<Record<EncodingCodec, () => Promise<Uint8Array>>>;

export const preEncoded = new WeakMap<object, Encoders>();
