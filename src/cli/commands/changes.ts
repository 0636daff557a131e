// `cm sessions settings history|watch`: the changes made to a scope, past and live.
import type { Command } from "commander";
import type { Scope } from "../../client/index.js";
import type { Context } from "../context.js";
import { changeLine, pageText, stringify } from "../format.js";
import { limitOption, revisionOption, scopeOption, sessionIdOption } from "../options.js";

export function registerChanges(settings: Command, ctx: Context): void {
  settings
    .command("history")
    .description("list past changes, newest first, one line each: revision, time, op, actor, source, changed keys")
    .addOption(sessionIdOption())
    .addOption(scopeOption())
    .addOption(limitOption("entries"))
    .addOption(revisionOption("--before-revision <n>", 'only changes older than this revision: the next page is the number printed after "more:"'))
    .action(async (o, cmd: Command) => {
      const r = await ctx.client(cmd).session(o.sessionId).settings.history({ scope: o.scope as Scope, limit: o.limit, beforeRevision: o.beforeRevision });
      ctx.print(cmd, pageText(r.entries.map(changeLine), "no changes", "--before-revision", r.nextBeforeRevision), r);
    });

  settings
    .command("watch")
    .description('stream changes, one JSON line each, until interrupted; with --json, first {"created":true,"revision":n} once the watch is established')
    .addOption(sessionIdOption())
    .addOption(scopeOption())
    .addOption(revisionOption("--from-revision <n>", "first replay the retained changes after this revision (0: all of them)"))
    .option("--include-settings", "add the whole map after each change")
    .action(async (o, cmd: Command) => {
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      // Scripts may wait for the created line before writing: from then on no change is missed.
      const onCreated = ctx.json(cmd) ? (c: { revision: bigint }) => ctx.io.out(stringify({ created: true, revision: c.revision })) : undefined;
      const changes = ctx.client(cmd).session(o.sessionId).settings.watch({
        scope: o.scope as Scope, fromRevision: o.fromRevision, includeSettings: Boolean(o.includeSettings), signal: stop.signal, onCreated,
      });
      for await (const change of changes) ctx.io.out(stringify(change));
    });
}
