// Who is at the other end of a connection, as far as the connection itself
// says: its address and, with TLS client certificates, the names of the
// certificate it presented (only one the CA vouched for). Read once per
// connection and kept: a TLS peer cannot change its certificate (Node
// refuses renegotiation on the connections it serves).
import type net from "node:net";
import type tls from "node:tls";
import { createContextKey, createContextValues, type ContextValues } from "@connectrpc/connect";

export interface Peer {
  /** The remote IP address ("" when the connection is gone already). */
  address: string;
  /**
   * The verified client certificate's names, as the tokens file spells them:
   * "CN=<subject common name>" and one per subject alternative name
   * ("DNS:host", "URI:spiffe://...", "email:a@b", "IP:10.0.0.1"). Undefined without one.
   */
  certificate?: string[];
}

const peers = new WeakMap<object, Peer>();

/** Node's subjectaltname text: `DNS:a, IP Address:10.0.0.1, URI:"x, y"` (values with a comma are quoted). */
function altNames(text: string | undefined): string[] {
  if (!text) return [];
  const names: string[] = [];
  for (const m of text.matchAll(/([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const kind = m[1] === "IP Address" ? "IP" : m[1]!;
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    names.push(`${kind}:${value}`);
  }
  return names;
}

function certificateNames(socket: tls.TLSSocket): string[] | undefined {
  if (!socket.encrypted || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  return [...(cn === undefined ? [] : (Array.isArray(cn) ? cn : [cn]).map((n) => `CN=${n}`)), ...altNames(cert.subjectaltname)];
}

/** The peer of a connection (a socket, or the stand-in that HTTP/2 hands out for its session's socket). */
export function peerOf(socket: net.Socket | tls.TLSSocket | undefined): Peer {
  if (!socket) return { address: "" };
  let peer = peers.get(socket);
  if (peer === undefined) {
    peer = { address: socket.remoteAddress ?? "", certificate: certificateNames(socket as tls.TLSSocket) };
    if (peer.address !== "") peers.set(socket, peer);
  }
  return peer;
}

/** Where a call's connection is left for the interceptors (authentication by certificate, rate limits). */
export const peerKey = createContextKey<Peer | undefined>(undefined, { description: "the call's connection peer" });

/** Context values that carry the connection's peer (read once per connection, then kept). */
export function peerValues(socket: net.Socket | undefined): ContextValues {
  return createContextValues().set(peerKey, peerOf(socket));
}
