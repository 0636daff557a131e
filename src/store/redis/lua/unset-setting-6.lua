-- Removes one top-level key. ARGV after the frame: key.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local w = write_frame(KEYS, ARGV)
local e = check_preconditions(w)
if e then return e end
local key = ARGV[OP_ARGS + 1]
stage_setting(w, key, redis.call('HGET', w.settings_key, key) or nil, nil)
return finish(w, 'unset', #w.changes > 0, nil)
