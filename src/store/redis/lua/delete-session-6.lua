#!lua flags=allow-oom
-- Leaves a durable tombstone and removes settings, controls, history and
-- remembered request ids.
-- KEYS: 1 meta, 2 tuple, 3 settings, 4 history, 5 requests, 6 request order.
-- ARGV: 1 deletedAt (ms), 2 channel, 3 event.
--- @include "includes/session"
local e = check_session(KEYS[1])
if e then return e end
redis.call('HSET', KEYS[1], 'state', 'deleted', 'deletedAt', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return { 0 }
