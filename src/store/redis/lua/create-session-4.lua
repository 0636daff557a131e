-- Creates a session with a copy of the default tuple (read by the caller from
-- the default scope's own slot) and revision 0.
-- KEYS: 1 meta, 2 tuple, 3 settings, 4 history.
-- ARGV: 1 id, 2 cwd, 3 createdAt (ms), 4 systemOwned (1/0), 5 model ('' = null),
--       6 approvalPolicy, 7 networkAccess, 8 filesystemSandbox, 9 bytes, 10..: key, JSON pairs.
local st = redis.call('HMGET', KEYS[1], 'state', 'systemOwned', 'deletedAt')
if st[1] == 'deleted' then return { -2, st[3] } end
if st[1] then
  if st[2] == '1' then return { -3 } end
  return { -8 }
end
redis.call('HSET', KEYS[1], 'sessionId', ARGV[1], 'cwd', ARGV[2], 'createdAt', ARGV[3],
  'systemOwned', ARGV[4], 'state', 'active')
redis.call('HSET', KEYS[2], 'revision', 0, 'bytes', ARGV[9], 'updatedAt', ARGV[3], 'approvalPolicy', ARGV[6],
  'networkAccess', ARGV[7], 'filesystemSandbox', ARGV[8])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'model', ARGV[5]) end
-- unpack() has a C-stack bound, so large maps go in batches.
for i = 10, #ARGV, 400 do
  redis.call('HSET', KEYS[3], unpack(ARGV, i, math.min(i + 399, #ARGV)))
end
return { 0 }
