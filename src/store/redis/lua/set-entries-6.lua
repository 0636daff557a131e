-- Sets top-level keys (op "set" for one entry, "merge" for a shallow merge).
-- ARGV after the frame: op, then key, JSON pairs, keys in byte order.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local w = write_frame(KEYS, ARGV)
local e = check_preconditions(w)
if e then return e end
local op = ARGV[OP_ARGS + 1]
for i = OP_ARGS + 2, #ARGV, 2 do
  stage_setting(w, ARGV[i], redis.call('HGET', w.settings_key, ARGV[i]) or nil, ARGV[i + 1])
end
return finish(w, op, false, op == 'set' and ARGV[OP_ARGS + 3] or nil)
