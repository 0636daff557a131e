// npm start: builds dist/ first when it is missing or older than the sources,
// then runs the compiled server in this very process. There is no child to
// orphan: SIGTERM or SIGINT sent to `npm start` reaches the server itself.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureDist, root } from "./dist.mjs";

const status = ensureDist();
if (status !== 0) process.exit(status);
await import(pathToFileURL(join(root, "dist", "src", "main.js")).href);
