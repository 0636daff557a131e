// The package's version, read from the package.json next to this module's
// directory at run time, so it is right in a checkout and in an installed package.
import { readFileSync } from "node:fs";

export const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
