// connect-node (the fallback path: gRPC+JSON, compressed Connect JSON, and
// whatever else the fast path leaves to it) turns a JSON request body into
// text through this decoder, which applies the integer rule first
// (domain/exact-integers.ts), in Connect's error form, as wire.ts does for
// the fast path, and marks every "__proto__" key (client/json-keys.ts).
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { protoKeysRenamed } from "../client/json-keys.js";
import { errors } from "../domain/errors.js";
import { inexactIntegers } from "../domain/exact-integers.js";
import { domainToConnect } from "./connect-errors.js";

const utf8 = new TextDecoder();

type JsonOptions = NonNullable<ConnectNodeAdapterOptions["jsonOptions"]>;

// connect's JSON serialization takes a textDecoder option that its type does not name.
export const exactJsonOptions: JsonOptions & { textDecoder: { decode(bytes: Uint8Array): string } } = {
  textDecoder: {
    decode(bytes: Uint8Array): string {
      const issues = inexactIntegers(bytes);
      if (issues.length > 0) throw domainToConnect(errors.invalid(issues));
      const text = utf8.decode(bytes);
      // Read with the shadow types (./connect-fallback.ts), whose plan takes the mark off again.
      return protoKeysRenamed(bytes, text) ?? text;
    },
  },
};
