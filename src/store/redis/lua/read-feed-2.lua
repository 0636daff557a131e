#!lua flags=no-writes
-- Reads one shard's change feed (includes/feed.lua) after a position.
-- KEYS: 1 feed counter, 2 feed stream (one slot).
-- ARGV: 1 after (a seq), 2 count (0: none, just the head).
-- Answers { newest seq, oldest retained id or false, entries }.
local newest = redis.call('GET', KEYS[1]) or '0'
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local entries = {}
if tonumber(ARGV[2]) > 0 then entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2]) end
return { newest, oldest[1] and oldest[1][1] or false, entries }
