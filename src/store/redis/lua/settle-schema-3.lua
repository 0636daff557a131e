-- Settles a schema change in the registry (src/store/redis/schema-registry.ts):
--   put    the pending schema of this registration (its token) becomes the key's schema;
--   abort  the pending schema is dropped (stored values broke it);
--   delete the key's schema, and any pending one, are removed.
-- A put or delete takes the next revision (store-wide, never reused) and is
-- recorded in the history stream. Node then moves every shard's schema
-- generation, so writes checked before this are checked again.
-- KEYS: 1 registry hash (fields: begin-schema-1.lua), 2 revision counter,
--       3 history stream (one {schemas} slot).
-- ARGV: 1 mode, 2 key, 3 token ('' for delete), 4 schema text, 5 time (ms),
--       6 actor, 7 claimed actor ('' = none), 8 source, 9 forced (1/0),
--       10 violations, 11 history bound.
-- Answers { 0, revision } (changed), { 1, revision } (nothing to change), or
-- SCHEMA_BUSY (this registration's lease was taken over).
--- @include "includes/codes"
--- @include "includes/json"
local mode, key, token = ARGV[1], ARGV[2], ARGV[3]
local registry, counter = KEYS[1], KEYS[2]
if mode ~= 'delete' then
  local lease = redis.call('HGET', registry, 't:' .. key)
  if not lease or string.sub(lease, 1, #token + 1) ~= token .. '|' then return { E.SCHEMA_BUSY } end
  redis.call('HDEL', registry, 'p:' .. key, 't:' .. key)
  if mode == 'abort' then return { 1, tonumber(redis.call('GET', counter) or '0') } end
elseif redis.call('HEXISTS', registry, 's:' .. key) == 0 then
  redis.call('HDEL', registry, 'p:' .. key, 't:' .. key)
  return { 1, tonumber(redis.call('GET', counter) or '0') }
end
local revision = redis.call('INCR', counter)
local entry = { 'key', key, 'op', mode, 'actor', ARGV[6], 'source', ARGV[8], 'time', ARGV[5], 'forced', ARGV[9], 'violations', ARGV[10] }
if ARGV[7] ~= '' then entry[#entry + 1] = 'claimedActor'; entry[#entry + 1] = ARGV[7] end
if mode == 'put' then
  entry[#entry + 1] = 'schema'; entry[#entry + 1] = ARGV[4]
  redis.call('HSET', registry, 's:' .. key, ARGV[4], 'm:' .. key, '{"revision":' .. revision .. ',"time":' .. ARGV[5]
    .. ',"actor":' .. json_string(ARGV[6]) .. ',"source":' .. json_string(ARGV[8]) .. '}')
else
  redis.call('HDEL', registry, 's:' .. key, 'm:' .. key, 'p:' .. key, 't:' .. key)
end
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[11], revision .. '-0', unpack(entry))
return { 0, revision }
