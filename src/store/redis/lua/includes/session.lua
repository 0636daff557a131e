-- Session state, checked first in every script (SPEC §4 steps 2-4), as
-- src/domain/session-rules.ts decides it for the other stores.
--- @include "includes/codes"

-- Addressing a session: an error reply, or nil when it is active and user-owned.
local function check_session(meta_key)
  local st = redis.call('HMGET', meta_key, 'state', 'systemOwned', 'deletedAt')
  if not st[1] then return { E.NOT_FOUND } end
  if st[1] == 'deleted' then return { E.DELETED, st[3] } end
  if st[2] == '1' then return { E.SYSTEM_SESSION } end
  return nil
end

-- Creating one: an error reply when the id is taken (deleted, system-owned, or in use), else nil.
local function check_creatable(meta_key)
  local st = redis.call('HMGET', meta_key, 'state', 'systemOwned', 'deletedAt')
  if not st[1] then return nil end
  if st[1] == 'deleted' then return { E.DELETED, st[3] } end
  if st[2] == '1' then return { E.SYSTEM_SESSION } end
  return { E.EXISTS }
end
