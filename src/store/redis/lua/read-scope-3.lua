#!lua flags=no-writes
-- A consistent read of one tuple.
-- KEYS: 1 meta, 2 tuple, 3 settings. ARGV: 1 check session (1/0), 2 map|key|tuple, 3 key,
--       or for map a revision the caller already holds ('' = none).
-- Answers { 0, tuple fields, map } for tuple; { 0, revision, map } for map
-- ({ 0, revision } alone when the map is still at the revision the caller
-- holds); { 0, revision, value or nil } for key.
--- @include "includes/session"
if ARGV[1] == '1' then
  local e = check_session(KEYS[1])
  if e then return e end
end
local mode = ARGV[2]
if mode == 'tuple' then return { 0, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) } end
local revision = redis.call('HGET', KEYS[2], 'revision') or '0'
if mode == 'key' then return { 0, revision, redis.call('HGET', KEYS[3], ARGV[3]) } end
if ARGV[3] == revision then return { 0, revision } end
return { 0, revision, redis.call('HGETALL', KEYS[3]) }
