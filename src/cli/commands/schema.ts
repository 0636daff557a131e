// `cm schema put|get|list|delete|violations`: typed settings, a JSON Schema
// per top-level key, checked on every write.
import type { Command } from "commander";
import type { JsonObject } from "../../client/index.js";
import type { Context } from "../context.js";
import { UsageError } from "../exit.js";
import { violationLines } from "../format.js";
import { jsonFrom, positiveArg } from "../options.js";

export function registerSchema(program: Command, ctx: Context): Command {
  const schema = program.command("schema").description("typed settings: a JSON Schema (draft 2020-12) per top-level key, checked on every write");

  schema
    .command("put")
    .description("register (or replace) KEY's schema from FILE; refused if stored values break it, unless --force")
    .argument("<key>", "the top-level settings key, e.g. team")
    .argument("<file>", "a JSON file holding the schema")
    .option("--force", "register it even though stored values break it (they stay; later writes are checked)")
    .option("--actor <actor>", "who registers it (default: user)")
    .option("--source <source>", "from where (default: api)")
    .action(async (key: string, file: string, o, cmd: Command) => {
      const doc = jsonFrom("--schema", undefined, file);
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new UsageError(`${file} must hold a JSON object (a JSON Schema)`);
      const r = await ctx.client(cmd).schemas.put(key, doc as JsonObject, { force: o.force, actor: o.actor, source: o.source });
      const forced = r.violations > 0 ? `; ${r.violations} stored value(s) break it (see cm schema violations ${key})` : "";
      ctx.print(cmd, `${r.changed ? "registered" : "unchanged"} schema of ${key} (revision ${r.revision})${forced}`, r);
    });

  schema
    .command("get")
    .description("print KEY's schema, its revision and recent changes")
    .argument("<key>")
    .action(async (key: string, _o, cmd: Command) => {
      const r = await ctx.client(cmd).schemas.get(key);
      const history = r.history.map((h) => `#${h.revision} ${h.time?.toISOString() ?? "-"} ${h.op} by ${h.actor} via ${h.source}${h.forced ? ` (forced over ${h.violations})` : ""}`);
      ctx.print(cmd, [JSON.stringify(r.schema, null, 2), `revision ${r.revision}`, ...history].join("\n"), r);
    });

  schema
    .command("list")
    .description("list the keys that have a schema, with each revision")
    .action(async (_o, cmd: Command) => {
      const r = await ctx.client(cmd).schemas.list();
      ctx.print(cmd, r.length ? r.map((s) => `${s.key}  revision ${s.revision}`).join("\n") : "no schemas", { schemas: r });
    });

  schema
    .command("delete")
    .description("remove KEY's schema (its writes are no longer checked)")
    .argument("<key>")
    .option("--actor <actor>", "who removes it (default: user)")
    .option("--source <source>", "from where (default: api)")
    .action(async (key: string, o, cmd: Command) => {
      const r = await ctx.client(cmd).schemas.delete(key, { actor: o.actor, source: o.source });
      ctx.print(cmd, r.changed ? `removed the schema of ${key} (revision ${r.revision})` : `${key} had no schema`, r);
    });

  schema
    .command("violations")
    .description("list the stored values of KEY that break its schema (registered with --force, say)")
    .argument("<key>")
    .option("--limit <n>", "how many scopes to list, at most 1000 (default: 100)", positiveArg)
    .action(async (key: string, o, cmd: Command) => {
      const r = await ctx.client(cmd).schemas.violations(key, { limit: o.limit });
      const lines = r.count === 0 ? [`every stored value of ${key} satisfies its schema (revision ${r.revision})`] : [`${r.count} stored value(s) of ${key} break its schema (revision ${r.revision}):`, ...r.violations.flatMap(violationLines)];
      ctx.print(cmd, lines.join("\n"), r);
    });

  return schema;
}
