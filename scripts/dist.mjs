// Whether dist/ holds a build of the current sources, and building it when it
// does not. Shared by `npm start` and `npm run bench`, which both run dist/.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
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

/** Builds dist/ when it is missing, unfinished or older than the sources; returns the build's exit status. */
export function ensureDist() {
  const stale = !existsSync(built) || (existsSync(join(root, "src")) && newest(SOURCES) > statSync(built).mtimeMs);
  if (!stale) return 0;
  process.stderr.write("dist/ is missing or older than the sources: building it first (npm run build)\n");
  return spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit" }).status ?? 1;
}
