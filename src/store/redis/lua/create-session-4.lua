-- Creates a session with a copy of the default tuple (read by the caller from
-- the default scope's own slot) and revision 0, and records it in the change
-- feed (includes/feed.lua).
-- KEYS: 1 meta, 2 tuple, 3 settings, 4 history.
-- ARGV: 1 id, 2 cwd, 3 createdAt (ms), 4 systemOwned (1/0), 5 model ('' = null),
--       6 approvalPolicy, 7 networkAccess, 8 filesystemSandbox, 9 bytes, 10 channel,
--       11 feed counter key, 12 feed stream key, 13 feed limit, 14 feed shard,
--       15 actor, 16 source, 17 the feed entry's changes (JSON), 18 the shard's
--       schema generation key, 19 the generation Node checked the copied
--       settings at, 20 Node's verdict ('ok'/'invalid') (includes/schema.lua),
--       21..: key, JSON pairs.
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/json"
--- @include "includes/feed"
local e = check_creatable(KEYS[1]) or check_schema(ARGV[18], ARGV[19], ARGV[20], KEYS[3], '', '', {})
if e then return e end
redis.call('HSET', KEYS[1], 'sessionId', ARGV[1], 'cwd', ARGV[2], 'createdAt', ARGV[3],
  'systemOwned', ARGV[4], 'state', 'active')
redis.call('HSET', KEYS[2], 'revision', 0, 'bytes', ARGV[9], 'updatedAt', ARGV[3], 'approvalPolicy', ARGV[6],
  'networkAccess', ARGV[7], 'filesystemSandbox', ARGV[8])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'model', ARGV[5]) end
-- unpack() has a C-stack bound, so large maps go in batches.
for i = 21, #ARGV, 400 do
  redis.call('HSET', KEYS[3], unpack(ARGV, i, math.min(i + 399, #ARGV)))
end
local feed = { seq = ARGV[11], log = ARGV[12], limit = ARGV[13], shard = ARGV[14] }
local seq = feed_append(feed, { 'sid', ARGV[1], 'scope', 'session', 'rev', 0, 'kind', 'session_created',
  'op', 'create', 'actor', ARGV[15], 'source', ARGV[16], 'time', ARGV[3], 'changes', ARGV[17] })
redis.call('PUBLISH', ARGV[10], '{"type":"created","sessionId":' .. event_string(ARGV[1])
  .. ',"revision":0,"actor":' .. event_string(ARGV[15]) .. ',"source":' .. event_string(ARGV[16]) .. ',"time":' .. ARGV[3]
  .. ',"changes":' .. ARGV[17] .. ',"feed":' .. feed_json(feed, seq) .. '}')
return { 0 }
