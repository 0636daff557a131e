// DNS rebinding. A page on evil.test whose name the attacker re-points at
// 127.0.0.1 is, to the browser, the same origin as this server: its Origin
// matches the Host it sends, so the cross-site write check (./cors.ts) lets
// it write, and it may read every setting. On a server bound to a loopback
// address, only local programs can connect, and they name it by a loopback
// name: so every request whose Host (HTTP/2's :authority) names anything
// else is refused, unless ALLOWED_HOSTS lists it. A server bound elsewhere
// (0.0.0.0, a LAN address) is reached by names this one cannot know, and
// checks nothing: put it behind authentication (TOKENS_FILE).
import { refuseUnread, requestHost } from "./cors.js";
import type { Req, Res } from "./http-types.js";

/** Whether a request may be served, by the host it names (undefined: no Host, as HTTP/1.0 may send). */
export type HostCheck = (host: string | undefined) => boolean;

const LOOPBACK_IPV4 = /^127(\.\d{1,3}){3}$/;
const isLoopback = (name: string) => name === "localhost" || name.endsWith(".localhost") || name === "::1" || LOOPBACK_IPV4.test(name);

/** The host a Host header names, without its port, brackets or a final dot, in lower case. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  // [::1]:8080; name:8080; a bare IPv6 address has several colons and no port.
  const name = h.startsWith("[") ? h.slice(1, h.includes("]") ? h.indexOf("]") : undefined) : h.indexOf(":") === h.lastIndexOf(":") ? h.split(":")[0]! : h;
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/** The check for a server bound to `bindHost`: undefined when it checks nothing (not loopback, or ALLOWED_HOSTS=*). */
export function hostCheck(bindHost: string, allowedHosts: string[]): HostCheck | undefined {
  if (!isLoopback(hostName(bindHost)) || allowedHosts.includes("*")) return undefined;
  const allowed = new Set(allowedHosts.map(hostName));
  return (host) => {
    if (host === undefined) return true;
    const name = hostName(host);
    return isLoopback(name) || allowed.has(name);
  };
}

/** Refuses a request that names a host this server does not answer to (returns true), before its body is read. */
export function refuseForeignHost(check: HostCheck | undefined, req: Req, res: Res, isProcedure: boolean): boolean {
  const host = requestHost(req.headers);
  if (!check || check(host)) return false;
  const message = `requests for host ${hostName(host!)} are refused: this server, bound to a loopback address, answers to localhost and ALLOWED_HOSTS only (DNS rebinding)`;
  refuseUnread(req, res, isProcedure, "host_not_allowed", message);
  return true;
}
