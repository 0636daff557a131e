#!lua flags=no-writes
-- Reads history consistently with the tuple's revision.
-- KEYS: 1 meta, 2 tuple, 3 history. ARGV: 1 check session (1/0), 2 since|before,
--       3 revision ('' = newest, for before), 4 count (for before).
-- Answers { 0, current revision, oldest retained id or nil, entries }.
--- @include "includes/session"
if ARGV[1] == '1' then
  local e = check_session(KEYS[1])
  if e then return e end
end
local current = redis.call('HGET', KEYS[2], 'revision') or '0'
local oldest = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
local oldest_id = oldest[1] and oldest[1][1] or false
local entries
if ARGV[2] == 'since' then
  entries = redis.call('XRANGE', KEYS[3], '(' .. ARGV[3] .. '-0', '+')
elseif ARGV[3] == '' then
  entries = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[4])
else
  entries = redis.call('XREVRANGE', KEYS[3], '(' .. ARGV[3] .. '-0', '-', 'COUNT', ARGV[4])
end
return { 0, current, oldest_id, entries }
