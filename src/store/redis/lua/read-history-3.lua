#!lua flags=no-writes
-- Reads history consistently with the tuple's revision. The stream may keep
-- a few entries past the bound (includes/feed.lua trims with MAXLEN ~), so
-- every range starts at the oldest revision the bound keeps: revisions are
-- contiguous, one entry each, up to the current one.
-- KEYS: 1 meta, 2 tuple, 3 history. ARGV: 1 check session (1/0), 2 since|before,
--       3 revision ('' = newest, for before), 4 count (for before), 5 the bound.
-- Answers { 0, current revision, oldest retained id or nil, entries }.
--- @include "includes/session"
if ARGV[1] == '1' then
  local e = check_session(KEYS[1])
  if e then return e end
end
local current = redis.call('HGET', KEYS[2], 'revision') or '0'
local lowest = math.max(1, tonumber(current) - tonumber(ARGV[5]) + 1)
local from = lowest .. '-0'
local oldest = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', 1)
local oldest_id = oldest[1] and oldest[1][1] or false
local entries
if ARGV[2] == 'since' then
  local after = tonumber(ARGV[3])
  entries = redis.call('XRANGE', KEYS[3], after >= lowest and ('(' .. ARGV[3] .. '-0') or from, '+')
elseif ARGV[3] == '' then
  entries = redis.call('XREVRANGE', KEYS[3], '+', from, 'COUNT', ARGV[4])
else
  entries = redis.call('XREVRANGE', KEYS[3], '(' .. ARGV[3] .. '-0', from, 'COUNT', ARGV[4])
end
return { 0, current, oldest_id, entries }
