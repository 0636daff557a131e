-- The store-wide change feed (SPEC "Change feed"), appended in the same
-- script as the change it records. A feed is a stream whose ids are
-- <seq>-0, seq counting up by one per change in a counter beside it, and
-- trimmed to about the newest `limit` entries (as history_append trims).
-- Outside Redis Cluster there is one feed; on a cluster one per shard, whose keys live on the shard's node in
-- a slot of their own (the caller names them; they are not the script's
-- declared KEYS, which must share one slot).
--
-- feed_append(feed, fields) answers the new seq (as text); `feed` is
-- { seq = key, log = key, limit = n, shard = name }.
local function feed_append(feed, fields)
  local seq = tostring(redis.call('INCR', feed.seq))
  redis.call('XADD', feed.log, 'MAXLEN', '~', feed.limit, seq .. '-0', unpack(fields))
  return seq
end

-- A tuple's history stream (ids <revision>-0), trimmed approximately: XADD
-- MAXLEN ~ keeps at least `bound` entries and drops whole stream nodes only
-- (at most stream-node-max-entries more are kept), where an exact MAXLEN
-- rewrites the oldest node on every append (about 4 us of Redis CPU once the
-- stream is full, against 0.7). Readers see exactly the newest `bound`:
-- read-history-3.lua and read-feed-2.lua bound their ranges by the counter.
local function history_append(key, bound, revision, fields)
  redis.call('XADD', key, 'MAXLEN', '~', bound, revision .. '-0', unpack(fields))
end

-- A string as JSON text in events and history entries, which are only ever
-- parsed (never compared as text): cjson's encoder is C, several times
-- cheaper than json_string's gsub, and escapes a little more ("\/").
-- Stored values keep json_string's canonical text.
local event_string = cjson.encode

-- The feed position as the published event carries it.
local function feed_json(feed, seq)
  return '{"shard":' .. event_string(feed.shard) .. ',"seq":' .. seq .. '}'
end
