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
local OP_ARGS = 29

-- One write's frame and staged changes, read from its KEYS and ARGV.
-- Staged changes: { kind, key, before JSON or nil, after JSON or nil }.
local function write_frame(KEYS, ARGV)
  return {
    argv = ARGV,
    meta_key = KEYS[1], tuple_key = KEYS[2], settings_key = KEYS[3], history_key = KEYS[4],
    requests_key = KEYS[5], request_order_key = KEYS[6],
    if_revision = ARGV[2], now = ARGV[3], actor = ARGV[4], source = ARGV[5],
    history_bound = ARGV[6], channel = ARGV[7],
    max_keys = ARGV[8], max_bytes = ARGV[9],
    want_settings = ARGV[10] == '1', scope = ARGV[11], session_id = ARGV[12],
    claimed_actor = ARGV[13], request_id = ARGV[14], fingerprint = ARGV[15],
    request_limit = ARGV[16],
    feed = { seq = ARGV[17], log = ARGV[18], limit = ARGV[19], shard = ARGV[20] },
    changes = {}, tuple_writes = {}, key_delta = 0, byte_delta = 0,
  }
end

local function map_reply(w)
  if w.want_settings then return redis.call('HGETALL', w.settings_key) end
  return false
end

-- Session state, then a remembered request id (answered as it was first
-- time), then compare-and-set, then the schemas (includes/schema.lua).
-- Answers an early reply, or nil to go on. Reads the tuple's revision and
-- bytes once, for commit.
local function check_preconditions(w)
  local ARGV = w.argv
  if ARGV[1] == '1' then
    local e = check_session(w.meta_key)
    if e then return e end
  end
  if w.request_id ~= '' then
    local seen = redis.call('HGET', w.requests_key, w.request_id)
    if seen then
      local r = cjson.decode(seen)
      if r[1] ~= w.fingerprint then return { E.REQUEST_REUSED } end
      return { 0, r[2], r[3], r[4], r[5] or false, map_reply(w), 1 }
    end
  end
  local t = redis.call('HMGET', w.tuple_key, 'revision', 'bytes')
  w.revision, w.bytes = t[1] or '0', tonumber(t[2] or '0')
  if w.if_revision ~= '' and w.if_revision ~= w.revision then return { E.CONFLICT, w.revision } end
  return check_schema(ARGV[21], ARGV[22], ARGV[23], w.settings_key, ARGV[24], ARGV[25], { ARGV[26], ARGV[27], ARGV[28], ARGV[29] })
end

local function stage_setting(w, key, before, after)
  if before == after then return end
  w.changes[#w.changes + 1] = { 'setting', key, before, after }
  if before then w.key_delta, w.byte_delta = w.key_delta - 1, w.byte_delta - #key - #before end
  if after then w.key_delta, w.byte_delta = w.key_delta + 1, w.byte_delta + #key + #after end
end

local function stage_control(w, name, raw)
  local old = redis.call('HGET', w.tuple_key, name) or nil
  if old == raw then return end
  w.changes[#w.changes + 1] = { 'control', name, old and event_string(old) or 'null', raw and event_string(raw) or 'null' }
  w.tuple_writes[#w.tuple_writes + 1] = { name, raw }
end

-- Stages making the map exactly the key/JSON pairs in ARGV[first..]: every
-- key of either side, in byte order.
local function stage_replace(w, first)
  local ARGV = w.argv
  local wanted, keys = {}, {}
  for i = first, #ARGV, 2 do
    wanted[ARGV[i]] = ARGV[i + 1]
    keys[#keys + 1] = ARGV[i]
  end
  local current = redis.call('HGETALL', w.settings_key)
  local have = {}
  for i = 1, #current, 2 do
    have[current[i]] = current[i + 1]
    if wanted[current[i]] == nil then keys[#keys + 1] = current[i] end
  end
  table.sort(keys, byte_less)
  for _, key in ipairs(keys) do stage_setting(w, key, have[key], wanted[key]) end
end

-- A write may not grow the map past a limit; shrinking is always allowed.
local function check_limits(w)
  if w.key_delta > 0 and redis.call('HLEN', w.settings_key) + w.key_delta > tonumber(w.max_keys) then
    return { E.TOO_MANY_KEYS }
  end
  if w.byte_delta > 0 and w.bytes + w.byte_delta > tonumber(w.max_bytes) then
    return { E.TOO_MANY_BYTES }
  end
  return nil
end

-- The settings hash's writes as one HSET and one HDEL, the tuple's as one
-- HSET (revision, updatedAt, bytes, controls) and one HDEL of a cleared control.
local function apply_staged(w, revision)
  local set, del = {}, {}
  for _, c in ipairs(w.changes) do
    if c[1] == 'setting' then
      if c[4] then set[#set + 1] = c[2]; set[#set + 1] = c[4] else del[#del + 1] = c[2] end
    end
  end
  -- unpack() has a C-stack bound, so large maps go in batches.
  for i = 1, #set, 400 do redis.call('HSET', w.settings_key, unpack(set, i, math.min(i + 399, #set))) end
  for i = 1, #del, 200 do redis.call('HDEL', w.settings_key, unpack(del, i, math.min(i + 199, #del))) end
  local tuple = { 'revision', revision, 'updatedAt', w.now, 'bytes', w.bytes + w.byte_delta }
  for _, t in ipairs(w.tuple_writes) do
    if t[2] then tuple[#tuple + 1] = t[1]; tuple[#tuple + 1] = t[2] else redis.call('HDEL', w.tuple_key, t[1]) end
  end
  redis.call('HSET', w.tuple_key, unpack(tuple))
end

-- The new revision is formatted once (Lua formats a number with sprintf each
-- time it is concatenated or passed to a command).
local function commit(w, op, path_json)
  local revision = tostring(tonumber(w.revision) + 1)
  apply_staged(w, revision)
  local parts = {}
  for i, c in ipairs(w.changes) do
    parts[i] = '{"kind":"' .. c[1] .. '","key":' .. event_string(c[2])
      .. (c[3] and (',"before":' .. c[3]) or '') .. (c[4] and (',"after":' .. c[4]) or '') .. '}'
  end
  local changes_json = '[' .. table.concat(parts, ',') .. ']'
  local claimed_actor = w.claimed_actor
  local entry = { 'op', op, 'actor', w.actor, 'source', w.source, 'time', w.now, 'changes', changes_json }
  if claimed_actor ~= '' then entry[#entry + 1] = 'claimedActor'; entry[#entry + 1] = claimed_actor end
  if path_json then entry[#entry + 1] = 'path'; entry[#entry + 1] = path_json end
  history_append(w.history_key, w.history_bound, revision, entry)
  local kind = op == 'controls' and 'controls' or 'settings'
  local seq = feed_append(w.feed, { 'sid', w.session_id, 'scope', w.scope, 'rev', revision, 'kind', kind, unpack(entry) })
  redis.call('PUBLISH', w.channel, '{"type":"change","scope":"' .. w.scope .. '","sessionId":' .. event_string(w.session_id)
    .. ',"revision":' .. revision .. ',"op":"' .. op .. '","actor":' .. event_string(w.actor)
    .. (claimed_actor ~= '' and (',"claimedActor":' .. event_string(claimed_actor)) or '')
    .. (path_json and (',"path":' .. path_json) or '')
    .. ',"source":' .. event_string(w.source) .. ',"time":' .. w.now .. ',"changes":' .. changes_json
    .. ',"feed":' .. feed_json(w.feed, seq) .. '}')
  return revision
end

local function remember(w, changed, revision, removed, value)
  if w.request_id == '' then return end
  redis.call('HSET', w.requests_key, w.request_id, cjson.encode({ w.fingerprint, changed, tostring(revision), removed, value or nil }))
  redis.call('RPUSH', w.request_order_key, w.request_id)
  while redis.call('LLEN', w.request_order_key) > tonumber(w.request_limit) do
    redis.call('HDEL', w.requests_key, redis.call('LPOP', w.request_order_key))
  end
end

-- Commits when something changed, then answers:
-- { 0, changed, revision, removed, value or false, map or false, replayed }.
-- `value` is the text of the key the write names after it (set and path
-- writes; nil when absent), which the caller knows without a read.
local function finish(w, op, removed, value, path_json)
  local e = check_limits(w)
  if e then return e end
  local changed = #w.changes > 0
  local revision
  if changed then revision = commit(w, op, path_json) else revision = w.revision end
  local c, r = changed and 1 or 0, removed and 1 or 0
  remember(w, c, revision, r, value)
  return { 0, c, revision, r, value or false, map_reply(w), 0 }
end
