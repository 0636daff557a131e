// npm run build: the compiled server (tsc: src and gen → dist/), its Lua
// scripts beside it, and the web panel (vite → dist/web). dist/.built marks
// a finished build, so `npm start` can tell a stale or broken one.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

rmSync(join(root, "dist"), { recursive: true, force: true });
run(bin("tsc"), ["-p", "tsconfig.build.json"]);
cpSync(join(root, "src/store/redis/lua"), join(root, "dist/src/store/redis/lua"), { recursive: true });
run(bin("vite"), ["build", "web", "--logLevel", "warn"]);
writeFileSync(join(root, "dist/.built"), `${new Date().toISOString()}\n`);
