-- The frame of every settings/controls write (SPEC §6): session state,
-- compare-and-set, staged changes with limits, unchanged detection, revision,
-- history and event, all inside one script call.
--
-- KEYS: 1 meta, 2 tuple, 3 settings, 4 history (one hash tag, one slot).
-- ARGV: 1 check session (1/0), 2 ifRevision ('' = none), 3 time (ms),
--       4 actor, 5 source, 6 history bound, 7 event channel, 8 max keys,
--       9 max bytes, 10 answer the map (1/0), 11 scope, 12 session id,
--       13 claimed actor ('' = none), 14.. the operation's own arguments.
local meta_key, tuple_key, settings_key, history_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local if_revision, now, actor, source = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local history_bound, channel = ARGV[6], ARGV[7]
local max_keys, max_bytes = tonumber(ARGV[8]), tonumber(ARGV[9])
local want_settings, scope, session_id = ARGV[10] == '1', ARGV[11], ARGV[12]
local claimed_actor = ARGV[13]
local OP_ARGS = 13

local function check_preconditions()
  if ARGV[1] == '1' then
    local e = check_session(meta_key)
    if e then return e end
  end
  local current = redis.call('HGET', tuple_key, 'revision') or '0'
  if if_revision ~= '' and if_revision ~= current then return { -4, current } end
  return nil
end

-- Staged changes: { kind, key, before JSON or nil, after JSON or nil }.
local changes, tuple_writes = {}, {}
local key_delta, byte_delta = 0, 0

local function stage_setting(key, before, after)
  if before == after then return end
  if before and after and json_equal(json_decode(before), json_decode(after)) then return end
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

-- Stages making the map exactly the key/JSON pairs in ARGV[first..].
local function stage_replace(first)
  local wanted = {}
  for i = first, #ARGV, 2 do wanted[ARGV[i]] = ARGV[i + 1] end
  local current = redis.call('HGETALL', settings_key)
  for i = 1, #current, 2 do
    if wanted[current[i]] == nil then stage_setting(current[i], current[i + 1], nil) end
  end
  for i = first, #ARGV, 2 do
    stage_setting(ARGV[i], redis.call('HGET', settings_key, ARGV[i]) or nil, ARGV[i + 1])
  end
end

-- A write may not grow the map past a limit; shrinking is always allowed.
local function check_limits()
  if key_delta > 0 and redis.call('HLEN', settings_key) + key_delta > max_keys then
    return { -5, max_keys }
  end
  if byte_delta > 0 and tonumber(redis.call('HGET', tuple_key, 'bytes') or '0') + byte_delta > max_bytes then
    return { -6, max_bytes }
  end
  return nil
end

local function commit(op)
  for _, c in ipairs(changes) do
    if c[1] == 'setting' then
      if c[4] then redis.call('HSET', settings_key, c[2], c[4]) else redis.call('HDEL', settings_key, c[2]) end
    end
  end
  for _, w in ipairs(tuple_writes) do
    if w[2] then redis.call('HSET', tuple_key, w[1], w[2]) else redis.call('HDEL', tuple_key, w[1]) end
  end
  if byte_delta ~= 0 then redis.call('HINCRBY', tuple_key, 'bytes', byte_delta) end
  local revision = redis.call('HINCRBY', tuple_key, 'revision', 1)
  local parts = {}
  for i, c in ipairs(changes) do
    parts[i] = '{"kind":"' .. c[1] .. '","key":' .. json_string(c[2])
      .. (c[3] and (',"before":' .. c[3]) or '') .. (c[4] and (',"after":' .. c[4]) or '') .. '}'
  end
  local changes_json = '[' .. table.concat(parts, ',') .. ']'
  local claimed = {}
  if claimed_actor ~= '' then claimed = { 'claimedActor', claimed_actor } end
  redis.call('XADD', history_key, 'MAXLEN', history_bound, revision .. '-0',
    'op', op, 'actor', actor, 'source', source, 'time', now, 'changes', changes_json, unpack(claimed))
  redis.call('PUBLISH', channel, '{"type":"change","scope":"' .. scope .. '","sessionId":' .. json_string(session_id)
    .. ',"revision":' .. revision .. ',"op":"' .. op .. '","actor":' .. json_string(actor)
    .. (claimed_actor ~= '' and (',"claimedActor":' .. json_string(claimed_actor)) or '')
    .. ',"source":' .. json_string(source) .. ',"time":' .. now .. ',"changes":' .. changes_json .. '}')
  return revision
end

-- Commits when something changed, then answers:
-- { 0, changed, revision, removed, value of value_key or nil, map or nil }.
local function finish(op, removed, value_key)
  local e = check_limits()
  if e then return e end
  local changed = #changes > 0
  local revision
  if changed then revision = commit(op) else revision = tonumber(redis.call('HGET', tuple_key, 'revision') or '0') end
  local value, map = false, false
  if value_key then value = redis.call('HGET', settings_key, value_key) end
  if want_settings then map = redis.call('HGETALL', settings_key) end
  return { 0, changed and 1 or 0, revision, removed and 1 or 0, value, map }
end
