-- Nested path writes inside one top-level value; the same rules as
-- src/domain/paths.ts, which the embedded store runs.
local function is_object(v) return type(v) == 'table' and getmetatable(v) == OBJECT end

local function deep_merge(base, patch)
  if not is_object(patch) or not is_object(base) then return patch end
  local out = setmetatable({}, OBJECT)
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(patch) do out[k] = deep_merge(base[k], v) end
  return out
end

-- Returns the new value at this level (nil when gone) and whether a leaf was removed.
local function apply_path(top, segments, i, op, value)
  if i > #segments then
    if op == 'unset' then return nil, top ~= nil end
    if op == 'merge' then return deep_merge(top, value), false end
    return value, false
  end
  if not is_object(top) then
    if op == 'unset' then return top, false end
    top = setmetatable({}, OBJECT)
  end
  local head = segments[i]
  local inner, removed = apply_path(top[head], segments, i + 1, op, value)
  if op == 'unset' and not removed then return top, false end
  local out = setmetatable({}, OBJECT)
  for k, v in pairs(top) do out[k] = v end
  out[head] = inner
  return out, removed
end
