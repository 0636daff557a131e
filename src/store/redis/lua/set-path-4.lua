-- An atomic nested write inside one top-level key, decoded and re-encoded
-- here so that concurrent writers of sibling paths never lose updates.
-- ARGV 14: key, 15: set|merge|unset, 16: value JSON, 17..: path segments below the key.
--- @include "includes/json"
--- @include "includes/path"
--- @include "includes/session"
--- @include "includes/write"
local e = check_preconditions()
if e then return e end
local key, path_op = ARGV[OP_ARGS + 1], ARGV[OP_ARGS + 2]
local segments = {}
for i = OP_ARGS + 4, #ARGV do segments[#segments + 1] = ARGV[i] end
local before = redis.call('HGET', settings_key, key) or nil
local top = nil
if before then top = json_decode(before) end
local after, removed = apply_path(top, segments, 1, path_op, json_decode(ARGV[OP_ARGS + 3]))
if after ~= top then stage_setting(key, before, after ~= nil and json_encode(after) or nil) end
return finish('path', removed, key)
