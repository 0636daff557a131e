// `cm sessions settings get|set|unset`.
import { Option, type Command } from "commander";
import type { JsonObject } from "../../client/index.js";
import type { Context } from "../context.js";
import { UsageError } from "../exit.js";
import { replayedNote } from "../format.js";
import { addPathOptions, addWriteOptions, jsonFrom, pathFrom, scopeOption, sessionIdOption, writeOptions } from "../options.js";

export function registerSettings(sessions: Command, ctx: Context): Command {
  const settings = sessions.command("settings").description("the session's settings: a JSON map per scope, its history and live changes");

  settings
    .command("get")
    .description("print the whole settings map of a scope, or one key's value")
    .addOption(sessionIdOption())
    .addOption(scopeOption())
    .option("--key <key>", "print only this top-level key's value")
    .action(async (o, cmd: Command) => {
      const s = ctx.client(cmd).session(o.sessionId).settings;
      if (o.key === undefined) {
        const r = await s.get({ scope: o.scope });
        ctx.print(cmd, `${JSON.stringify(r.settings, null, 2)}\nrevision ${r.revision}`, r);
      } else {
        const r = await s.getKey(o.key, { scope: o.scope });
        ctx.print(cmd, r.found ? JSON.stringify(r.value, null, 2) : `${o.key}: not set`, { key: o.key, ...r });
      }
    });

  const set = settings
    .command("set")
    .description("write one key (--key), a nested path (--path/--segment) or several keys (--settings)")
    .addOption(sessionIdOption())
    .option("--key <key>", "the top-level key to set, with --value")
    .option("--value <json>", "the value, as JSON: '\"text\"', 2, '{\"lead\":\"ana\"}', null")
    .option("--value-file <file>", "read the value from a JSON file instead");
  addPathOptions(set, "team.review")
    .option("--merge", "with --path/--segment: deep-merge the object --value instead of setting it")
    .option("--settings <json>", "several top-level keys at once, as a JSON object")
    .option("--settings-file <file>", "read that JSON object from a file instead")
    .addOption(new Option("--mode <mode>", "with --settings: merge the keys in, or replace the whole map with them").choices(["merge", "replace"]).default("merge"));
  addWriteOptions(set).action(async (o, cmd: Command) => {
    const s = ctx.client(cmd).session(o.sessionId).settings;
    const value = jsonFrom("--value", o.value, o.valueFile);
    const map = jsonFrom("--settings", o.settings, o.settingsFile);
    const path = pathFrom(o);
    const options = writeOptions(o);
    let r;
    if (path !== undefined) {
      if (o.key !== undefined || map !== undefined) throw new UsageError("give --path/--segment with --value, without --key or --settings");
      if (value === undefined) throw new UsageError("give --value (or --value-file) with --path/--segment");
      const ns = s.namespace(path, { scope: options.scope });
      r = o.merge ? await ns.merge(value as JsonObject, options) : await ns.set(value, options);
    } else if (map !== undefined) {
      if (o.key !== undefined || value !== undefined) throw new UsageError("give --settings or --key with --value, not both");
      if (typeof map !== "object" || map === null || Array.isArray(map)) throw new UsageError("--settings must be a JSON object");
      r = o.mode === "replace" ? await s.replace(map as JsonObject, options) : await s.merge(map as JsonObject, options);
    } else {
      if (o.key === undefined || value === undefined) throw new UsageError("give --key with --value (or --value-file), or --settings");
      r = await s.set(o.key, value, options);
    }
    ctx.print(cmd, `${r.changed ? "updated" : "unchanged"} (revision ${r.revision})${replayedNote(r)}`, r);
  });

  const unset = settings
    .command("unset")
    .description("remove a top-level key (--key) or a nested one (--path/--segment)")
    .addOption(sessionIdOption())
    .option("--key <key>", "the top-level key to remove");
  addWriteOptions(addPathOptions(unset, "team.review.owner")).action(async (o, cmd: Command) => {
    const s = ctx.client(cmd).session(o.sessionId).settings;
    const path = pathFrom(o);
    if ((path === undefined) === (o.key === undefined)) throw new UsageError("give --key, or --path/--segment");
    const options = writeOptions(o);
    const r = path === undefined ? await s.unset(o.key, options) : await s.namespace(path, { scope: options.scope }).unset(options);
    const what = path === undefined ? o.key : JSON.stringify(path);
    ctx.print(cmd, `${r.removed ? `removed ${what} (revision ${r.revision})` : `${what} was not set`}${replayedNote(r)}`, r);
  });

  return settings;
}
