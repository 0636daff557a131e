// `cm sessions settings watch`: the changes made to a scope, live.
import type { Command } from "commander";
import type { Scope } from "../../client/index.js";
import type { Context } from "../context.js";
import { stringify } from "../format.js";
import { revisionOption, scopeOption, sessionIdOption } from "../options.js";

export function registerChanges(settings: Command, ctx: Context): void {
  settings
    .command("watch")
    .description("stream changes, one JSON line each, until interrupted")
    .addOption(sessionIdOption())
    .addOption(scopeOption())
    .addOption(revisionOption("--from-revision <n>", "first replay the retained changes after this revision (0: all of them)"))
    .option("--include-settings", "add the whole map after each change")
    .action(async (o, cmd: Command) => {
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      const changes = ctx.client(cmd).session(o.sessionId).settings.watch({
        scope: o.scope as Scope, fromRevision: o.fromRevision, includeSettings: Boolean(o.includeSettings), signal: stop.signal,
      });
      for await (const change of changes) ctx.io.out(stringify(change));
    });
}
