// `cm`: codex-manager's session verbs against this service, over Connect.
// Human output by default, --json for scripts; exit codes tell outcomes apart
// (exit.ts). Each group of commands lives in commands/.
import { Command, Option } from "commander";
import { registerChanges } from "./commands/changes.js";
import { registerControls } from "./commands/controls.js";
import { registerFeed } from "./commands/feed.js";
import { registerSchema } from "./commands/schema.js";
import { registerSessions } from "./commands/sessions.js";
import { registerSettings } from "./commands/settings.js";
import { createContext, type Io } from "./context.js";
import { EXIT, exitCodeFor } from "./exit.js";
import { version } from "./version.js";

export { EXIT };
export type { Io } from "./context.js";

/** The whole command tree; nothing runs until it parses arguments. */
export function buildProgram(io: Io): Command {
  const ctx = createContext(io);
  const program = new Command("cm")
    .description("Session settings and controls, shared with the web UI, the API and Python workflows")
    .version(version, "-V, --version", "print cm's version")
    .option("--profile <name>", "profile from the codex-manager CLI config file")
    .option("--base-url <url>", "service address (overrides the profile)")
    .option("--bearer <token>", "bearer token when the service has auth on (default: $CODEX_MANAGER_BEARER_TOKEN, then the profile's auth.bearer)")
    .addOption(new Option("--token <token>", "the same as --bearer"))
    .option("--ca-file <pem>", "https: the CA certificate (PEM file) to trust instead of the system's")
    .option("--cert <pem>", "https: a client certificate (PEM file), for a service that asks for one; its private key in the same file, or in --cert-key")
    // Not --key: that already names a settings key (`sessions settings set --key`, `watch --all --key`).
    .option("--cert-key <pem>", "https: the client certificate's private key (PEM file)")
    .option("--json", "machine-readable output: one JSON document")
    .showHelpAfterError("(add --help for usage)")
    // Subcommands inherit all of this, so every one's --help also lists the global options.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const sessions = registerSessions(program, ctx);
  registerControls(sessions, ctx);
  registerChanges(registerSettings(sessions, ctx), ctx);
  registerFeed(program, ctx);
  registerSchema(program, ctx);
  return program;
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    return exitCodeFor(err, io);
  }
}
