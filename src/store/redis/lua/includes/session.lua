-- Session state, checked first in every script (SPEC §4 steps 2-4).
-- Returns an error reply, or nil when the session is active and user-owned.
local function check_session(meta_key)
  local st = redis.call('HMGET', meta_key, 'state', 'systemOwned', 'deletedAt')
  if not st[1] then return { -1 } end
  if st[1] == 'deleted' then return { -2, st[3] } end
  if st[2] == '1' then return { -3 } end
  return nil
end
