// `cm watch --all`: every change across all sessions (and the default
// scope), live, from the store-wide change feed.
import { Option, type Command } from "commander";
import type { FeedChange } from "../../client/index.js";
import type { Context } from "../context.js";
import { changeLine, stringify } from "../format.js";

/** One feed change on one line: its scope, then the change as history prints it, then the cursor to resume after it. */
const feedLine = (c: FeedChange) =>
  `${c.scope === "default" ? "default" : c.sessionId} ${c.kind} ${changeLine({ ...c.entry, revision: c.revision })} (cursor ${c.cursor})`;

export function registerFeed(program: Command, ctx: Context): void {
  program
    .command("watch")
    .description('stream every change across all sessions until interrupted, one line each; with --json, one JSON line each, first {"created":true,"cursor":...}')
    .requiredOption("--all", "every session and the default scope (the store-wide change feed)")
    .option("--key <key>", "only changes that touch this top-level key (repeat for several; deletions always come)", (v: string, all: string[]) => [...all, v], [] as string[])
    .addOption(new Option("--scope <scope>", "only sessions, or only the default scope").choices(["sessions", "default"]))
    .option("--session-prefix <prefix>", "only sessions whose id starts with this")
    .option("--after <cursor>", "first replay the retained changes after this cursor (printed with every change)")
    .action(async (o, cmd: Command) => {
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      const json = ctx.json(cmd);
      // Scripts may wait for the created line before writing: from then on no change is missed.
      const onCreated = json ? (c: { cursor: string }) => ctx.io.out(stringify({ created: true, cursor: c.cursor })) : undefined;
      const changes = ctx.client(cmd).changes.watch({
        after: o.after, keys: o.key, scope: o.scope, sessionIdPrefix: o.sessionPrefix, signal: stop.signal, onCreated,
      });
      for await (const change of changes) ctx.io.out(json ? stringify(change) : feedLine(change));
    });
}
