-- Makes the map exactly the given object. ARGV after the frame: key, JSON pairs.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local e = check_preconditions()
if e then return e end
stage_replace(OP_ARGS + 1)
return finish('replace', false, nil)
