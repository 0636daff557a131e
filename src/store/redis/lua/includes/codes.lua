-- The reply codes every script answers with, by name. TypeScript turns each
-- into the very domain error the engine raises (src/store/redis/script-codes.ts,
-- whose names and numbers test/lua-codes.test.ts holds equal to these).
local E = {
  NOT_FOUND = -1,
  DELETED = -2,
  SYSTEM_SESSION = -3,
  CONFLICT = -4,
  TOO_MANY_KEYS = -5,
  TOO_MANY_BYTES = -6,
  EXISTS = -8,
  REQUEST_REUSED = -9,
  SCHEMA_STALE = -10,
  SCHEMA_INVALID = -11,
  SCHEMA_BUSY = -12,
}
