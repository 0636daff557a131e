#!lua flags=no-writes
-- Reads one shard's change feed (includes/feed.lua) after a position. The
-- stream may keep a few entries past the bound (MAXLEN ~), so reads start at
-- the oldest seq the bound keeps: seqs are contiguous up to the counter.
-- KEYS: 1 feed counter, 2 feed stream (one slot).
-- ARGV: 1 after (a seq), 2 count (0: none, just the head), 3 the bound.
-- Answers { newest seq, oldest retained id or false, entries }.
local newest = redis.call('GET', KEYS[1]) or '0'
local lowest = math.max(1, tonumber(newest) - tonumber(ARGV[3]) + 1)
local from = lowest .. '-0'
local oldest = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', 1)
local entries = {}
if tonumber(ARGV[2]) > 0 then
  local start = tonumber(ARGV[1]) >= lowest and ('(' .. ARGV[1] .. '-0') or from
  entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[2])
end
return { newest, oldest[1] and oldest[1][1] or false, entries }
