// Logging through pino: one JSON line per event on stdout. Bearer tokens and
// setting values never reach a log line: callers pass only identifiers,
// codes and timings, and pino's redaction blanks the fields that could carry
// secrets or values should one be passed by mistake.
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";
import type { LogLevel } from "../config.js";

export type Logger = PinoLogger;

/** Fields that may hold a token or a setting value, at the top level or one level down. */
export const REDACTED = [
  "authorization", "token", "bearer", "settings", "value", "before", "after", "changes",
].flatMap((field) => [field, `*.${field}`]);

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED, "headers.authorization", "*.headers.authorization"], censor: "[redacted]" },
    },
    // Synchronous: the last lines before an exit (a fatal error, a shutdown) must not be lost.
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
