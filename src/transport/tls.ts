// TLS on the one port (TLS_CERT_FILE and TLS_KEY_FILE; TLS_CA_FILE asks for
// client certificates). one-port.ts accepts the TCP connection, as without
// TLS; a tls.Server that never listens does the handshake (ALPN offers h2 and
// http/1.1, and the protocol negotiated picks the HTTP server), and checks a
// client certificate against the CA: TLS_CLIENT_AUTH=require refuses a
// client without one in the handshake, `optional` lets it in unidentified.
//
// New certificate files take effect without a restart, on SIGHUP (reload())
// or when a file changes (polled): only new connections get them, and
// connections already open keep their session. Files that cannot be read or
// do not match keep the certificates in use, with an error logged.
import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";
import type net from "node:net";
import tls from "node:tls";
import type { TlsSettings } from "../config.js";
import { ConfigError } from "../config.js";
import type { Logger } from "../observe/log.js";

/** How often the files are looked at for a change. */
const WATCH_INTERVAL_MS = 1000;
/** A rotation writes the certificate and the key one after the other: reload once, after both. */
const SETTLE_MS = 250;

export const ALPN_PROTOCOLS = ["h2", "http/1.1"];

/** The files' contents as a secure context takes them; throws ConfigError naming the variable of a file that cannot be read. */
function readFiles(settings: TlsSettings): tls.SecureContextOptions {
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return {
    cert: read("TLS_CERT_FILE", settings.certFile),
    key: read("TLS_KEY_FILE", settings.keyFile),
    ...(settings.caFile !== undefined && { ca: read("TLS_CA_FILE", settings.caFile) }),
  };
}

/** The connection's own key: its peer's address and port (unique among open connections on one listener). */
const peerKey = (socket: net.Socket) => `${socket.remoteAddress}|${socket.remotePort}`;

export class TlsTerminator {
  private readonly server: tls.Server;
  /** Accepted sockets whose handshake is under way, with what to do once it is done. */
  private readonly handshaking = new Map<string, (socket: tls.TLSSocket) => void>();
  private settle?: NodeJS.Timeout;
  private watched = false;

  /** Reads the files now: a bad file stops start-up (ConfigError naming the variable). */
  constructor(
    private readonly settings: TlsSettings,
    handshakeTimeoutMs: number,
    private readonly log?: Logger,
  ) {
    const files = readFiles(settings);
    try {
      this.server = tls.createServer({
        ...files,
        ALPNProtocols: ALPN_PROTOCOLS,
        requestCert: settings.caFile !== undefined,
        rejectUnauthorized: settings.caFile !== undefined && settings.clientAuth === "require",
        handshakeTimeout: handshakeTimeoutMs,
      });
    } catch (err) {
      throw new ConfigError(`TLS_CERT_FILE, TLS_KEY_FILE: ${(err as Error).message}`);
    }
    this.server.on("secureConnection", (socket: tls.TLSSocket) => {
      const key = peerKey(socket);
      const secured = this.handshaking.get(key);
      this.handshaking.delete(key);
      if (secured) secured(socket);
      else socket.destroy();
    });
    // A failed handshake (no certificate where one is required, a timeout, not TLS at all):
    // Node closes the connection; hearing it keeps the failure from being thrown.
    this.server.on("tlsClientError", () => {});
  }

  /** Starts the handshake on an accepted connection; `secured` gets the TLS socket once it is done. */
  accept(socket: net.Socket, secured: (socket: tls.TLSSocket) => void): void {
    const key = peerKey(socket);
    this.handshaking.set(key, secured);
    socket.once("close", () => {
      if (this.handshaking.get(key) === secured) this.handshaking.delete(key);
    });
    this.server.emit("connection", socket);
  }

  /** Reads the files again, for new connections; answers whether they were taken. `trigger` is logged. */
  reload(trigger: "SIGHUP" | "file change" = "SIGHUP"): boolean {
    try {
      this.server.setSecureContext(readFiles(this.settings));
      this.log?.info({ trigger, cert: this.settings.certFile }, "TLS certificates reloaded: new connections use them");
      return true;
    } catch (err) {
      this.log?.error({ trigger, err: (err as Error).message }, "TLS certificates not reloaded: the ones in use stay");
      return false;
    }
  }

  /** Reloads whenever one of the files changes (its contents, or the file a path names), until close(). */
  watch(): void {
    if (this.watched) return;
    this.watched = true;
    for (const file of this.files()) watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, this.onChange);
  }

  close(): void {
    clearTimeout(this.settle);
    if (this.watched) for (const file of this.files()) unwatchFile(file, this.onChange);
    this.watched = false;
  }

  private files(): string[] {
    const { certFile, keyFile, caFile } = this.settings;
    return [...new Set([certFile, keyFile, ...(caFile === undefined ? [] : [caFile])])];
  }

  private readonly onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload("file change"), SETTLE_MS).unref();
  };
}
