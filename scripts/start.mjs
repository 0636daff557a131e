// npm start: builds dist/ first when it is missing or older than the sources,
// then runs the compiled server in this very process. There is no child to
// orphan: SIGTERM or SIGINT sent to `npm start` reaches the server itself.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = join(root, "dist", ".built");
const SOURCES = ["src", "gen", "web/src", "web/index.html", "package.json", "tsconfig.json"];

/** The newest modification time under the given paths (0 where none exist, as in an installed package). */
function newest(paths) {
  let latest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else latest = Math.max(latest, stat.mtimeMs);
  };
  paths.forEach((p) => visit(join(root, p)));
  return latest;
}

const stale = !existsSync(built) || (existsSync(join(root, "src")) && newest(SOURCES) > statSync(built).mtimeMs);
if (stale) {
  process.stderr.write("dist/ is missing or older than the sources: building it first (npm run build)\n");
  const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
await import(pathToFileURL(join(root, "dist", "src", "main.js")).href);
