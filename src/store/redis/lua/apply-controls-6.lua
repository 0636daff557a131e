-- Replaces the four controls, and the settings when given.
-- ARGV after the frame (OP_ARGS, includes/write.lua): model ('' = null),
--      approvalPolicy, networkAccess, filesystemSandbox, settings given (1/0),
--      then key, JSON pairs.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local w = write_frame(KEYS, ARGV)
local e = check_preconditions(w)
if e then return e end
local model = ARGV[OP_ARGS + 1]
stage_control(w, 'model', model ~= '' and model or nil)
stage_control(w, 'approvalPolicy', ARGV[OP_ARGS + 2])
stage_control(w, 'networkAccess', ARGV[OP_ARGS + 3])
stage_control(w, 'filesystemSandbox', ARGV[OP_ARGS + 4])
if ARGV[OP_ARGS + 5] == '1' then stage_replace(w, OP_ARGS + 6) end
return finish(w, 'controls', false, nil)
