// What every command needs: where its output goes, --json, and one SDK per
// run, built from the global options (profile, base URL, bearer token).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { createSettingsSdk, type SettingsSdk } from "../client/index.js";
import { createSettingsTransport } from "../client/node.js";
import { loadEndpoint } from "../client/profile.js";
import { UsageError } from "./exit.js";
import { stringify } from "./format.js";
import type { Io } from "./io.js";

export type { Io } from "./io.js";

interface GlobalOptions {
  profile?: string;
  baseUrl?: string;
  bearer?: string;
  token?: string;
  json?: boolean;
  caFile?: string;
  cert?: string;
  certKey?: string;
}

/** --ca-file, --cert and --cert-key as the SDK's TLS options (the files' PEM text; the key may be in the --cert file). */
function tlsOf(opts: GlobalOptions) {
  if (opts.certKey !== undefined && opts.cert === undefined) throw new UsageError("--cert-key needs --cert");
  const pem = (flag: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const cert = pem("--cert", opts.cert);
  const tls = { ca: pem("--ca-file", opts.caFile), cert, key: opts.certKey === undefined ? cert : pem("--cert-key", opts.certKey) };
  return tls.ca || tls.cert ? tls : undefined;
}

export interface Context {
  io: Io;
  /** The SDK, from the global options given with `cmd`. */
  client(cmd: Command): SettingsSdk;
  /** `human` by default; `data` as one JSON line with --json. */
  print(cmd: Command, human: string, data: unknown): void;
  /** Whether --json was given. */
  json(cmd: Command): boolean;
}

export function createContext(io: Io): Context {
  let sdk: SettingsSdk | undefined;
  const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOptions>().json);
  return {
    io,
    client(cmd) {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const endpoint = loadEndpoint(opts.profile);
      const token = opts.bearer ?? opts.token ?? endpoint.bearer;
      const headers = { ...endpoint.headers, ...(token && { authorization: `Bearer ${token}` }) };
      // Connect (protobuf binary) over HTTP/1.1, through the SDK's own transport.
      sdk ??= createSettingsSdk(createSettingsTransport({
        baseUrl: opts.baseUrl ?? endpoint.baseUrl,
        protocol: "connect",
        httpVersion: "1.1",
        tls: tlsOf(opts),
        interceptors: [(next) => (req) => {
          for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
          return next(req);
        }],
      }));
      return sdk;
    },
    json,
    print(cmd, human, data) {
      io.out(json(cmd) ? stringify(data) : human);
    },
  };
}
