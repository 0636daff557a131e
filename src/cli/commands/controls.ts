// `cm sessions controls get|apply`.
import { Option, type Command } from "commander";
import type { Context } from "../context.js";
import { UsageError } from "../exit.js";
import { replayedNote, tupleLine } from "../format.js";
import { addWriteOptions, controlOptions, sessionIdOption, writeOptions } from "../options.js";

export function registerControls(sessions: Command, ctx: Context): void {
  const controls = sessions.command("controls").description("the session's controls and the defaults new sessions copy");

  controls
    .command("get")
    .description("show the session's controls, the defaults, and whether the defaults are locked")
    .addOption(sessionIdOption())
    .action(async (o, cmd: Command) => {
      const r = await ctx.client(cmd).session(o.sessionId).controls.get();
      const lock = r.defaultsEditable ? "defaults editable" : `defaults locked: ${r.defaultLockReason}`;
      ctx.print(cmd, [tupleLine("session", r.session), tupleLine("defaults", r.defaults), lock].join("\n"), r);
    });

  const apply = controls
    .command("apply")
    .description("replace the four controls of a scope together (its settings are kept)")
    .addOption(sessionIdOption());
  for (const option of controlOptions()) apply.addOption(option.makeOptionMandatory());
  apply
    .addOption(new Option("--model <model>", "the model (or --inherit-model)").conflicts("inheritModel"))
    .option("--inherit-model", "use the runtime's default model");
  addWriteOptions(apply).action(async (o, cmd: Command) => {
      if (o.model === undefined && !o.inheritModel) throw new UsageError("give --model <model> or --inherit-model");
      const r = await ctx.client(cmd).session(o.sessionId).controls.apply(
        { model: o.model ?? null, approvalPolicy: o.approvalPolicy, networkAccess: o.networkAccess, filesystemSandbox: o.filesystemSandbox },
        writeOptions(o),
      );
      ctx.print(cmd, `${r.changed ? "applied" : "unchanged"}: ${r.summary} (revision ${r.revision})${replayedNote(r)}`, r);
    });
}
