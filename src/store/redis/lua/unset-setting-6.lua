-- Removes one top-level key. ARGV after the frame: key.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local e = check_preconditions()
if e then return e end
local key = ARGV[OP_ARGS + 1]
stage_setting(key, redis.call('HGET', settings_key, key) or nil, nil)
return finish('unset', #changes > 0, nil)
