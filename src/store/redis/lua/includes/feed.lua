-- The store-wide change feed (SPEC "Change feed"), appended in the same
-- script as the change it records. A feed is a stream whose ids are
-- <seq>-0, seq counting up by one per change in a counter beside it, and
-- trimmed to the newest `limit` entries. Outside Redis Cluster there is one
-- feed; on a cluster one per shard, whose keys live on the shard's node in
-- a slot of their own (the caller names them; they are not the script's
-- declared KEYS, which must share one slot).
--
-- feed_append(feed, fields) answers the new seq; `feed` is
-- { seq = key, log = key, limit = n, shard = name }.
local function feed_append(feed, fields)
  local seq = redis.call('INCR', feed.seq)
  redis.call('XADD', feed.log, 'MAXLEN', feed.limit, seq .. '-0', unpack(fields))
  return seq
end

-- The feed position as the published event carries it.
local function feed_json(feed, seq)
  return '{"shard":' .. json_string(feed.shard) .. ',"seq":' .. seq .. '}'
end
