-- The frame of every settings/controls write (SPEC §6): session state,
-- remembered request ids, compare-and-set, staged changes with limits,
-- unchanged detection, revision, history and event, all inside one script
-- call. These are the rules of src/domain/engine.ts, kept equal to it by
-- test/properties.test.ts, including the order of changes: controls first in
-- a fixed order, then settings keys ascending by byte (code point) order.
--
-- KEYS: 1 meta, 2 tuple, 3 settings, 4 history, 5 requests, 6 request order
--       (one hash tag, one slot).
-- ARGV: 1 check session (1/0), 2 ifRevision ('' = none), 3 time (ms),
--       4 actor, 5 source, 6 history bound, 7 event channel, 8 max keys,
--       9 max bytes, 10 answer the map (1/0), 11 scope, 12 session id,
--       13 claimed actor ('' = none), 14 request id ('' = none),
--       15 fingerprint, 16 request ids remembered, 17 feed counter key,
--       18 feed stream key, 19 feed limit, 20 feed shard name, 21 the
--       shard's schema generation key, 22 the generation Node checked at,
--       23 Node's verdict ('ok'/'invalid'), 24 the settings field whose text
--       the check read ('' = none), 25 that text ('' = absent), 26 that
--       field's claim key, 27 this write's token, 28 claim it on a loss
--       (1/0), 29 how long a claim holds (ms) (includes/schema.lua), 30.. the
--       operation's own.
local meta_key, tuple_key, settings_key, history_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local requests_key, request_order_key = KEYS[5], KEYS[6]
local if_revision, now, actor, source = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local history_bound, channel = ARGV[6], ARGV[7]
local max_keys, max_bytes = tonumber(ARGV[8]), tonumber(ARGV[9])
local want_settings, scope, session_id = ARGV[10] == '1', ARGV[11], ARGV[12]
local claimed_actor, request_id, fingerprint = ARGV[13], ARGV[14], ARGV[15]
local request_limit = tonumber(ARGV[16])
local feed = { seq = ARGV[17], log = ARGV[18], limit = ARGV[19], shard = ARGV[20] }
local OP_ARGS = 29


local function map_reply()
  if want_settings then return redis.call('HGETALL', settings_key) end
  return false
end

-- Session state, then a remembered request id (answered as it was first
-- time), then compare-and-set, then the schemas (includes/schema.lua).
-- Answers an early reply, or nil to go on.
local function check_preconditions()
  if ARGV[1] == '1' then
    local e = check_session(meta_key)
    if e then return e end
  end
  if request_id ~= '' then
    local seen = redis.call('HGET', requests_key, request_id)
    if seen then
      local r = cjson.decode(seen)
      if r[1] ~= fingerprint then return { E.REQUEST_REUSED } end
      return { 0, r[2], r[3], r[4], r[5] or false, map_reply(), 1 }
    end
  end
  local current = redis.call('HGET', tuple_key, 'revision') or '0'
  if if_revision ~= '' and if_revision ~= current then return { E.CONFLICT, current } end
  return check_schema(ARGV[21], ARGV[22], ARGV[23], settings_key, ARGV[24], ARGV[25], { ARGV[26], ARGV[27], ARGV[28], ARGV[29] })
end

-- Staged changes: { kind, key, before JSON or nil, after JSON or nil }.
local changes, tuple_writes = {}, {}
local key_delta, byte_delta = 0, 0

local function stage_setting(key, before, after)
  if before == after then return end
  changes[#changes + 1] = { 'setting', key, before, after }
  if before then key_delta, byte_delta = key_delta - 1, byte_delta - #key - #before end
  if after then key_delta, byte_delta = key_delta + 1, byte_delta + #key + #after end
end

local function stage_control(name, raw)
  local old = redis.call('HGET', tuple_key, name) or nil
  if old == raw then return end
  changes[#changes + 1] = { 'control', name, old and json_string(old) or 'null', raw and json_string(raw) or 'null' }
  tuple_writes[#tuple_writes + 1] = { name, raw }
end

-- Stages making the map exactly the key/JSON pairs in ARGV[first..]: every
-- key of either side, in byte order.
local function stage_replace(first)
  local wanted, keys = {}, {}
  for i = first, #ARGV, 2 do
    wanted[ARGV[i]] = ARGV[i + 1]
    keys[#keys + 1] = ARGV[i]
  end
  local current = redis.call('HGETALL', settings_key)
  local have = {}
  for i = 1, #current, 2 do
    have[current[i]] = current[i + 1]
    if wanted[current[i]] == nil then keys[#keys + 1] = current[i] end
  end
  table.sort(keys, byte_less)
  for _, key in ipairs(keys) do stage_setting(key, have[key], wanted[key]) end
end

-- A write may not grow the map past a limit; shrinking is always allowed.
local function check_limits()
  if key_delta > 0 and redis.call('HLEN', settings_key) + key_delta > max_keys then
    return { E.TOO_MANY_KEYS }
  end
  if byte_delta > 0 and tonumber(redis.call('HGET', tuple_key, 'bytes') or '0') + byte_delta > max_bytes then
    return { E.TOO_MANY_BYTES }
  end
  return nil
end

local function commit(op, path_json)
  for _, c in ipairs(changes) do
    if c[1] == 'setting' then
      if c[4] then redis.call('HSET', settings_key, c[2], c[4]) else redis.call('HDEL', settings_key, c[2]) end
    end
  end
  for _, w in ipairs(tuple_writes) do
    if w[2] then redis.call('HSET', tuple_key, w[1], w[2]) else redis.call('HDEL', tuple_key, w[1]) end
  end
  if byte_delta ~= 0 then redis.call('HINCRBY', tuple_key, 'bytes', byte_delta) end
  redis.call('HSET', tuple_key, 'updatedAt', now)
  local revision = redis.call('HINCRBY', tuple_key, 'revision', 1)
  local parts = {}
  for i, c in ipairs(changes) do
    parts[i] = '{"kind":"' .. c[1] .. '","key":' .. json_string(c[2])
      .. (c[3] and (',"before":' .. c[3]) or '') .. (c[4] and (',"after":' .. c[4]) or '') .. '}'
  end
  local changes_json = '[' .. table.concat(parts, ',') .. ']'
  local entry = { 'op', op, 'actor', actor, 'source', source, 'time', now, 'changes', changes_json }
  if claimed_actor ~= '' then entry[#entry + 1] = 'claimedActor'; entry[#entry + 1] = claimed_actor end
  if path_json then entry[#entry + 1] = 'path'; entry[#entry + 1] = path_json end
  redis.call('XADD', history_key, 'MAXLEN', history_bound, revision .. '-0', unpack(entry))
  local kind = op == 'controls' and 'controls' or 'settings'
  local seq = feed_append(feed, { 'sid', session_id, 'scope', scope, 'rev', revision, 'kind', kind, unpack(entry) })
  redis.call('PUBLISH', channel, '{"type":"change","scope":"' .. scope .. '","sessionId":' .. json_string(session_id)
    .. ',"revision":' .. revision .. ',"op":"' .. op .. '","actor":' .. json_string(actor)
    .. (claimed_actor ~= '' and (',"claimedActor":' .. json_string(claimed_actor)) or '')
    .. (path_json and (',"path":' .. path_json) or '')
    .. ',"source":' .. json_string(source) .. ',"time":' .. now .. ',"changes":' .. changes_json
    .. ',"feed":' .. feed_json(feed, seq) .. '}')
  return revision
end

local function remember(changed, revision, removed, value)
  if request_id == '' then return end
  redis.call('HSET', requests_key, request_id, cjson.encode({ fingerprint, changed, tostring(revision), removed, value or nil }))
  redis.call('RPUSH', request_order_key, request_id)
  while redis.call('LLEN', request_order_key) > request_limit do
    redis.call('HDEL', requests_key, redis.call('LPOP', request_order_key))
  end
end

-- Commits when something changed, then answers:
-- { 0, changed, revision, removed, value of value_key or false, map or false, replayed }.
local function finish(op, removed, value_key, path_json)
  local e = check_limits()
  if e then return e end
  local changed = #changes > 0
  local revision
  if changed then revision = commit(op, path_json) else revision = tonumber(redis.call('HGET', tuple_key, 'revision') or '0') end
  local value = false
  if value_key then value = redis.call('HGET', settings_key, value_key) end
  local c, r = changed and 1 or 0, removed and 1 or 0
  remember(c, revision, r, value)
  return { 0, c, revision, r, value, map_reply(), 0 }
end
