#!lua flags=allow-oom,allow-cross-slot-keys
-- Leaves a durable tombstone, removes settings, controls, history and
-- remembered request ids, and records the deletion in the change feed
-- (includes/feed.lua; its keys are in another slot on this node).
-- KEYS: 1 meta, 2 tuple, 3 settings, 4 history, 5 requests, 6 request order.
-- ARGV: 1 deletedAt (ms), 2 channel, 3 actor, 4 source, 5 feed counter key,
--       6 feed stream key, 7 feed limit, 8 feed shard.
--- @include "includes/session"
--- @include "includes/json"
--- @include "includes/feed"
local e = check_session(KEYS[1])
if e then return e end
local session_id = redis.call('HGET', KEYS[1], 'sessionId')
local revision = redis.call('HGET', KEYS[2], 'revision') or '0'
redis.call('HSET', KEYS[1], 'state', 'deleted', 'deletedAt', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local feed = { seq = ARGV[5], log = ARGV[6], limit = ARGV[7], shard = ARGV[8] }
local seq = feed_append(feed, { 'sid', session_id, 'scope', 'session', 'rev', revision, 'kind', 'session_deleted',
  'op', 'delete', 'actor', ARGV[3], 'source', ARGV[4], 'time', ARGV[1], 'changes', '[]' })
redis.call('PUBLISH', ARGV[2], '{"type":"deleted","sessionId":' .. event_string(session_id) .. ',"deletedAt":' .. ARGV[1]
  .. ',"revision":' .. revision .. ',"actor":' .. event_string(ARGV[3]) .. ',"source":' .. event_string(ARGV[4])
  .. ',"feed":' .. feed_json(feed, seq) .. '}')
return { 0 }
