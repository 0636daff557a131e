// What every command needs: where its output goes, --json, and one SDK per
// run, built from the global options (profile, base URL, bearer token).
import type { Command } from "commander";
import { createSettingsSdk, type SettingsSdk } from "../client/index.js";
import { createSettingsTransport } from "../client/node.js";
import { loadEndpoint } from "../client/profile.js";
import { stringify } from "./format.js";

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

interface GlobalOptions {
  profile?: string;
  baseUrl?: string;
  bearer?: string;
  token?: string;
  json?: boolean;
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
