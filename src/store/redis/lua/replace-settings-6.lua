-- Makes the map exactly the given object. ARGV after the frame: key, JSON pairs.
--- @include "includes/json"
--- @include "includes/session"
--- @include "includes/schema"
--- @include "includes/feed"
--- @include "includes/write"
local w = write_frame(KEYS, ARGV)
local e = check_preconditions(w)
if e then return e end
stage_replace(w, OP_ARGS + 1)
return finish(w, 'replace', false, nil)
