-- The first step of registering a schema (src/store/redis/schema-registry.ts):
-- the new schema becomes *pending* beside the key's current one, and from
-- then on every instance checks writes of the key against both, until the
-- registration settles (settle-schema-3.lua). So no write committed while
-- stored values are being checked can break the new schema.
-- A registration of the same key still in progress (its lease not over)
-- refuses this one; the same text as the registered schema is unchanged.
-- KEYS: 1 the registry hash ({schemas} slot). Its fields per key K:
--       s:K the schema's text, m:K its record (revision, time, actor, source),
--       p:K a pending schema's text, t:K that registration's "<token>|<lease end ms>".
-- ARGV: 1 key, 2 schema text, 3 token, 4 now (ms), 5 lease (ms).
-- Answers { 0 } (pending), { 1, revision } (unchanged), or SCHEMA_BUSY.
--- @include "includes/codes"
local key, text, token, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('HGET', KEYS[1], 's:' .. key) == text then
  return { 1, cjson.decode(redis.call('HGET', KEYS[1], 'm:' .. key)).revision }
end
local lease = redis.call('HGET', KEYS[1], 't:' .. key)
if lease and tonumber(string.match(lease, '|(%d+)$')) > now then return { E.SCHEMA_BUSY } end
redis.call('HSET', KEYS[1], 'p:' .. key, text, 't:' .. key, token .. '|' .. (now + tonumber(ARGV[5])))
return { 0 }
