// The package's version, read at run time from the nearest package.json
// above this module: the checkout's when run from src/, the package's when
// run compiled from dist/src/ (in a checkout or an installed package).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function nearestPackageJson(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const version = (JSON.parse(readFileSync(nearestPackageJson(dirname(fileURLToPath(import.meta.url))), "utf8")) as { version: string }).version;
