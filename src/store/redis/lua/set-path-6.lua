-- An atomic nested write inside one top-level key, decoded and re-encoded
-- here so that concurrent writers of sibling paths never lose updates. The
-- path arrives as segments; nothing here splits a string.
-- ARGV after the frame: set|merge|unset, value JSON, the top-level key, then the segments below it.
--- @include "includes/json"
--- @include "includes/path"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local w = write_frame(KEYS, ARGV)
local e = check_preconditions(w)
if e then return e end
local path_op, key = ARGV[OP_ARGS + 1], ARGV[OP_ARGS + 3]
local segments, all = {}, { event_string(key) }
for i = OP_ARGS + 4, #ARGV do
  segments[#segments + 1] = ARGV[i]
  all[#all + 1] = event_string(ARGV[i])
end
local before = redis.call('HGET', w.settings_key, key) or nil
local top = nil
if before then top = json_decode(before) end
local after, removed = apply_path(top, segments, 1, path_op, json_decode(ARGV[OP_ARGS + 2]))
local value = before
if after ~= top then
  value = after ~= nil and json_encode(after) or nil
  stage_setting(w, key, before, value)
end
local path_json = '{"segments":[' .. table.concat(all, ',') .. '],"op":"' .. path_op .. '"}'
return finish(w, 'path', removed, value, path_json)
