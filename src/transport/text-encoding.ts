// protobuf-es turns every string field into UTF-8 through TextEncoder and
// back through TextDecoder. On Node 20 each of those calls crosses into C++,
// and for the short keys and values of a settings map that crossing costs
// more than the work (it was the top self-time frame of GetSettings). Short
// ASCII strings take a plain loop instead; everything else keeps the standard
// encoder, so the bytes are identical.
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

const SHORT = 64;

export function useFastTextEncoding(): void {
  const standard = getTextEncoding();
  configureTextEncoding({
    encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
      if (text.length > SHORT) return standard.encodeUtf8(text);
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) return standard.encodeUtf8(text);
        out[i] = c;
      }
      return out;
    },
    decodeUtf8(bytes: Uint8Array, strict?: boolean): string {
      if (bytes.length > SHORT) return standard.decodeUtf8(bytes, strict);
      let text = "";
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i]!;
        if (b > 0x7f) return standard.decodeUtf8(bytes, strict);
        text += String.fromCharCode(b);
      }
      return text;
    },
    checkUtf8: standard.checkUtf8,
  });
}
