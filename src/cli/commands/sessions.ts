// `cm sessions create|list|get|delete`.
import type { Command } from "commander";
import type { Context } from "../context.js";
import { pageText, tupleLine } from "../format.js";
import { controlOptions, limitOption, sessionIdOption } from "../options.js";

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

  sessions
    .command("list")
    .description("list active sessions, a page at a time, in id order (not deleted or system-owned ones)")
    .addOption(limitOption("sessions"))
    .option("--page-token <token>", "the page after the previous one: the token it printed after \"more:\"")
    .action(async (o, cmd: Command) => {
      const r = await ctx.client(cmd).sessions.list({ pageSize: o.limit, pageToken: o.pageToken });
      const rows = r.sessions.map((s) => `${s.sessionId}  ${s.cwd || "-"}  ${s.createdAt?.toISOString() ?? "-"}`);
      ctx.print(cmd, pageText(rows, "no sessions", "--page-token", r.nextPageToken), r);
    });

  sessions
    .command("get")
    .description("show a session and its controls")
    .addOption(sessionIdOption())
    .action(async (o, cmd: Command) => {
      const r = await ctx.client(cmd).sessions.get(o.sessionId);
      const s = r.session;
      ctx.print(cmd, [`session ${s.sessionId}`, `cwd: ${s.cwd || "-"}`, `created: ${s.createdAt?.toISOString() ?? "-"}`, tupleLine("controls", r.controls)].join("\n"), r);
    });

  sessions
    .command("delete")
    .description("delete a session; later calls naming it fail as deleted (exit 4)")
    .addOption(sessionIdOption())
    .action(async (o, cmd: Command) => {
      const r = await ctx.client(cmd).sessions.delete(o.sessionId);
      ctx.print(cmd, `deleted session ${r.sessionId}`, r);
    });

  return sessions;
}
