// `cm`: codex-manager's session verbs against this service, over Connect.
// Human output by default, --json for scripts; exit codes tell outcomes apart.
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createSettingsSdk, SettingsError, type JsonObject, type JsonValue, type SettingsSdk } from "../client/index.js";
import { loadEndpoint } from "../client/profile.js";
import { APPROVAL_POLICIES, FILESYSTEM_SANDBOXES, NETWORK_ACCESS, type Scope } from "../domain/types.js";

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  deleted: 4,
  locked: 5,
  conflict: 6,
  invalid: 7,
  systemSession: 8,
  unavailable: 9,
  unauthenticated: 10,
  forbidden: 11,
} as const;

const EXIT_BY_REASON: Record<string, number> = {
  SESSION_NOT_FOUND: EXIT.notFound,
  SESSION_DELETED: EXIT.deleted,
  DEFAULTS_LOCKED: EXIT.locked,
  REVISION_MISMATCH: EXIT.conflict,
  SESSION_EXISTS: EXIT.conflict,
  INVALID_REQUEST: EXIT.invalid,
  PAYLOAD_TOO_LARGE: EXIT.invalid,
  SYSTEM_SESSION: EXIT.systemSession,
  STORE_UNAVAILABLE: EXIT.unavailable,
  UNAUTHENTICATED: EXIT.unauthenticated,
  PERMISSION_DENIED: EXIT.forbidden,
};

class UsageError extends Error {}

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const stringify = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? Number(x) : x));

function parseJson(flag: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new UsageError(`${flag} must be JSON (quote strings: '"text"')`);
  }
}

function jsonFrom(flag: string, inline: string | undefined, file: string | undefined): JsonValue | undefined {
  if (inline !== undefined && file !== undefined) throw new UsageError(`give ${flag} or ${flag}-file, not both`);
  if (file !== undefined) return parseJson(`${flag}-file`, readFileSync(file, "utf8"));
  return inline === undefined ? undefined : parseJson(flag, inline);
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** A nested path from --path (dotted) or repeated --segment (any key, dots included); undefined when neither. */
function pathFrom(o: { path?: string; segment: string[] }): string | string[] | undefined {
  if (o.path !== undefined && o.segment.length > 0) throw new UsageError("give --path or --segment, not both");
  return o.segment.length > 0 ? o.segment : o.path;
}

function revision(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError("--if-revision must be a number");
  return BigInt(text);
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.ok;
  let json = false;
  let sdk: SettingsSdk | undefined;
  const client = (opts: { profile?: string; baseUrl?: string; bearer?: string; token?: string }) => {
    const endpoint = loadEndpoint(opts.profile);
    const token = opts.bearer ?? opts.token ?? endpoint.bearer;
    const headers = { ...endpoint.headers, ...(token && { authorization: `Bearer ${token}` }) };
    sdk ??= createSettingsSdk(createConnectTransport({
      baseUrl: opts.baseUrl ?? endpoint.baseUrl,
      httpVersion: "1.1",
      interceptors: [(next) => (req) => {
        for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
        return next(req);
      }],
    }));
    return sdk;
  };
  const print = (human: string, data: unknown) => io.out(json ? stringify(data) : human);

  const program = new Command("cm")
    .description("Session settings and controls, shared with the web UI, the API and Python workflows")
    .option("--profile <name>", "profile from the codex-manager CLI config file")
    .option("--base-url <url>", "service address (overrides the profile)")
    .option("--bearer <token>", "bearer token when the service has auth on (default: $CODEX_MANAGER_BEARER_TOKEN, then the profile's auth.bearer)")
    .addOption(new Option("--token <token>", "the same as --bearer").hideHelp())
    .option("--json", "machine-readable output")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .hook("preAction", (cmd) => {
      json = Boolean(cmd.optsWithGlobals().json);
    });

  const scopeOption = () => new Option("--scope <scope>", "session or default").choices(["session", "default"]).default("session");
  const sessions = program.command("sessions").description("sessions, their controls and settings");

  sessions
    .command("create")
    .description("create a session (copies the default controls and settings)")
    .option("--session-id <id>")
    .option("--cwd <dir>")
    .addOption(new Option("--approval-policy <policy>").choices(APPROVAL_POLICIES))
    .addOption(new Option("--network-access <access>").choices(NETWORK_ACCESS))
    .addOption(new Option("--filesystem-sandbox <mode>").choices(FILESYSTEM_SANDBOXES))
    .option("--model <model>")
    .action(async (o, cmd: Command) => {
      const r = await client(cmd.optsWithGlobals()).sessions.create({
        sessionId: o.sessionId, cwd: o.cwd, model: o.model,
        approvalPolicy: o.approvalPolicy, networkAccess: o.networkAccess, filesystemSandbox: o.filesystemSandbox,
      });
      print(`created session ${r.session.sessionId}`, r);
    });

  const controls = sessions.command("controls").description("session controls");
  controls
    .command("get")
    .requiredOption("--session-id <id>")
    .action(async (o, cmd: Command) => {
      const r = await client(cmd.optsWithGlobals()).session(o.sessionId).controls.get();
      const line = (name: string, t: typeof r.session) =>
        `${name}: ${t.model ?? "default"} | ${t.approvalPolicy} | ${t.networkAccess} | ${t.filesystemSandbox} | settings:${Object.keys(t.settings).length} (revision ${t.revision})`;
      print([line("session", r.session), line("defaults", r.defaults), r.defaultsEditable ? "defaults editable" : `defaults locked: ${r.defaultLockReason}`].join("\n"), r);
    });
  controls
    .command("apply")
    .requiredOption("--session-id <id>")
    .addOption(scopeOption())
    .addOption(new Option("--approval-policy <policy>").choices(APPROVAL_POLICIES).makeOptionMandatory())
    .addOption(new Option("--network-access <access>").choices(NETWORK_ACCESS).makeOptionMandatory())
    .addOption(new Option("--filesystem-sandbox <mode>").choices(FILESYSTEM_SANDBOXES).makeOptionMandatory())
    .addOption(new Option("--model <model>").conflicts("inheritModel"))
    .option("--inherit-model", "use the runtime's default model")
    .option("--actor <actor>")
    .option("--source <source>", "provenance", "cli")
    .option("--if-revision <n>")
    .action(async (o, cmd: Command) => {
      if (o.model === undefined && !o.inheritModel) throw new UsageError("give --model <model> or --inherit-model");
      const r = await client(cmd.optsWithGlobals()).session(o.sessionId).controls.apply(
        { model: o.model ?? null, approvalPolicy: o.approvalPolicy, networkAccess: o.networkAccess, filesystemSandbox: o.filesystemSandbox },
        { scope: o.scope as Scope, actor: o.actor, source: o.source, ifRevision: revision(o.ifRevision) },
      );
      print(`${r.changed ? "applied" : "unchanged"}: ${r.summary} (revision ${r.revision})`, r);
    });

  const settings = sessions.command("settings").description("session settings");
  settings
    .command("get")
    .requiredOption("--session-id <id>")
    .addOption(scopeOption())
    .option("--key <key>")
    .action(async (o, cmd: Command) => {
      const s = client(cmd.optsWithGlobals()).session(o.sessionId).settings;
      if (o.key === undefined) {
        const r = await s.get({ scope: o.scope });
        print(`${JSON.stringify(r.settings, null, 2)}\nrevision ${r.revision}`, r);
      } else {
        const r = await s.getKey(o.key, { scope: o.scope });
        print(r.found ? JSON.stringify(r.value, null, 2) : `${o.key}: not set`, { key: o.key, ...r });
      }
    });
  settings
    .command("set")
    .requiredOption("--session-id <id>")
    .addOption(scopeOption())
    .option("--key <key>")
    .option("--value <json>")
    .option("--value-file <file>")
    .option("--path <dotted.path>", "write inside a key: team.review (keys without dots)")
    .option("--segment <segment>", "one path segment, repeatable, for keys with dots: --segment team --segment v1.2", collect, [])
    .option("--merge", "with --path/--segment: deep-merge the object --value instead of setting it")
    .option("--settings <json>")
    .option("--settings-file <file>")
    .addOption(new Option("--mode <mode>").choices(["merge", "replace"]).default("merge"))
    .option("--actor <actor>")
    .option("--source <source>", "provenance", "cli")
    .option("--if-revision <n>")
    .action(async (o, cmd: Command) => {
      const s = client(cmd.optsWithGlobals()).session(o.sessionId).settings;
      const value = jsonFrom("--value", o.value, o.valueFile);
      const map = jsonFrom("--settings", o.settings, o.settingsFile);
      const path = pathFrom(o);
      const options = { scope: o.scope as Scope, actor: o.actor, source: o.source, ifRevision: revision(o.ifRevision) };
      let r;
      if (path !== undefined) {
        if (o.key !== undefined || map !== undefined) throw new UsageError("give --path/--segment with --value, without --key or --settings");
        if (value === undefined) throw new UsageError("give --value (or --value-file) with --path/--segment");
        const ns = s.namespace(path, { scope: o.scope as Scope });
        r = o.merge ? await ns.merge(value as JsonObject, options) : await ns.set(value, options);
      } else if (map !== undefined) {
        if (o.key !== undefined || value !== undefined) throw new UsageError("give --settings or --key with --value, not both");
        if (typeof map !== "object" || map === null || Array.isArray(map)) throw new UsageError("--settings must be a JSON object");
        r = o.mode === "replace" ? await s.replace(map as JsonObject, options) : await s.merge(map as JsonObject, options);
      } else {
        if (o.key === undefined || value === undefined) throw new UsageError("give --key with --value (or --value-file), or --settings");
        r = await s.set(o.key, value, options);
      }
      print(`${r.changed ? "updated" : "unchanged"} (revision ${r.revision})`, r);
    });
  settings
    .command("unset")
    .requiredOption("--session-id <id>")
    .option("--key <key>", "the top-level key to remove")
    .option("--path <dotted.path>", "remove a nested key: team.review.owner")
    .option("--segment <segment>", "one path segment, repeatable, for keys with dots", collect, [])
    .addOption(scopeOption())
    .option("--actor <actor>")
    .option("--source <source>", "provenance", "cli")
    .option("--if-revision <n>")
    .action(async (o, cmd: Command) => {
      const s = client(cmd.optsWithGlobals()).session(o.sessionId).settings;
      const path = pathFrom(o);
      if ((path === undefined) === (o.key === undefined)) throw new UsageError("give --key, or --path/--segment");
      const options = { scope: o.scope as Scope, actor: o.actor, source: o.source, ifRevision: revision(o.ifRevision) };
      const r = path === undefined ? await s.unset(o.key, options) : await s.namespace(path, { scope: o.scope as Scope }).unset(options);
      const what = path === undefined ? o.key : JSON.stringify(path);
      print(r.removed ? `removed ${what} (revision ${r.revision})` : `${what} was not set`, r);
    });
  settings
    .command("watch")
    .description("stream changes, one JSON line each, until interrupted")
    .requiredOption("--session-id <id>")
    .addOption(scopeOption())
    .option("--from-revision <n>")
    .option("--include-settings")
    .action(async (o, cmd: Command) => {
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      const changes = client(cmd.optsWithGlobals()).session(o.sessionId).settings.watch({
        scope: o.scope as Scope, fromRevision: revision(o.fromRevision), includeSettings: Boolean(o.includeSettings), signal: stop.signal,
      });
      for await (const change of changes) io.out(stringify(change));
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    code = exitCodeFor(err, io);
  }
  return code;
}

function exitCodeFor(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    return err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help" ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError) {
    io.err(`cm: ${err.message}`);
    return EXIT.usage;
  }
  if (err instanceof SettingsError) {
    const issues = err.detail?.issues.map((i) => `\n  ${i.path}: ${i.message}`).join("") ?? "";
    io.err(`cm: ${err.reason ?? "error"}: ${err.message}${issues}`);
    return (err.reason && EXIT_BY_REASON[err.reason]) || (err.code === 14 ? EXIT.unavailable : EXIT.failed);
  }
  io.err(`cm: ${(err as Error)?.message ?? String(err)}`);
  return EXIT.failed;
}
