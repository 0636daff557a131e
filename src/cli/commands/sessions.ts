// `cm sessions create`.
import type { Command } from "commander";
import type { Context } from "../context.js";
import { controlOptions } from "../options.js";

export function registerSessions(program: Command, ctx: Context): Command {
  const sessions = program.command("sessions").description("sessions, their controls and settings");

  const create = sessions
    .command("create")
    .description("create a session (copies the default controls and settings)")
    .option("--session-id <id>", "the new session's id (default: a generated UUID)")
    .option("--cwd <dir>", "the session's working directory");
  for (const option of controlOptions()) create.addOption(option);
  create
    .option("--model <model>", "the model (default: the runtime's default)")
    .action(async (o, cmd: Command) => {
      const r = await ctx.client(cmd).sessions.create({
        sessionId: o.sessionId, cwd: o.cwd, model: o.model,
        approvalPolicy: o.approvalPolicy, networkAccess: o.networkAccess, filesystemSandbox: o.filesystemSandbox,
      });
      ctx.print(cmd, `created session ${r.session.sessionId}`, r);
    });

  return sessions;
}
