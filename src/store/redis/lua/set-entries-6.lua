-- Sets top-level keys (op "set" for one entry, "merge" for a shallow merge).
-- ARGV after the frame: op, then key, JSON pairs, keys in byte order.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local e = check_preconditions()
if e then return e end
local op = ARGV[OP_ARGS + 1]
for i = OP_ARGS + 2, #ARGV, 2 do
  stage_setting(ARGV[i], redis.call('HGET', settings_key, ARGV[i]) or nil, ARGV[i + 1])
end
return finish(op, false, op == 'set' and ARGV[OP_ARGS + 2] or nil)
