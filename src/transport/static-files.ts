// Serves the built web panel (dist/web): its files, and index.html at "/",
// "/activity" and "/sessions/<id>" so that a link opens straight onto a page.
// Every other path is not the panel's, and gets the JSON 404.
import { createReadStream, existsSync, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Req, Res } from "./http-types.js";

// The built panel is dist/web: beside this file's dist/src/ when it runs compiled, or in the
// repository's dist/ when it runs from source (tests, tsx).
const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, HERE.includes(`${sep}dist${sep}src${sep}`) ? "../../web/" : "../../dist/web/");
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/** Answers GET and HEAD for the panel; false when the panel is not built or the method is not a read. */
export function serveWebApp(req: Req, res: Res): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const index = join(ROOT, "index.html");
  if (!existsSync(index)) return false;
  let path: string;
  try {
    path = decodeURIComponent((req.url ?? "/").split("?")[0]!);
  } catch {
    return false;
  }
  const candidate = normalize(join(ROOT, path));
  const inside = candidate.startsWith(ROOT) || candidate + sep === ROOT;
  const isFile = inside && existsSync(candidate) && statSync(candidate).isFile();
  if (!isFile && path !== "/" && path !== "/activity" && !path.startsWith("/sessions/")) return false;
  const file = isFile ? candidate : index;
  // Hashed assets never change; index.html must always be fresh.
  const cache = isFile && path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache";
  res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": cache });
  if (req.method === "HEAD") res.end();
  else createReadStream(file).pipe(res as NodeJS.WritableStream);
  return true;
}
