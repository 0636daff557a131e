-- JSON for values stored by this service. cjson cannot tell [] from {} and
-- rounds numbers to 14 digits, so nested path writes would corrupt sibling
-- values; this codec keeps arrays, objects and doubles exact and encodes in
-- the canonical form the Node side uses (keys in code point order, JavaScript
-- numbers).

-- Byte order, whatever the locale: Redis sets LC_COLLATE from its
-- environment, and Lua's own string comparison follows it.
local function byte_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local ARRAY, OBJECT = {}, {}
local NULL = setmetatable({}, {})

local json_decode
do
  local byte, sub, find, char, floor = string.byte, string.sub, string.find, string.char, math.floor
  local escapes = { [34] = '"', [92] = '\\', [47] = '/', [98] = '\b', [102] = '\f', [110] = '\n', [114] = '\r', [116] = '\t' }
  local function utf8(cp)
    if cp < 0x80 then return char(cp) end
    if cp < 0x800 then return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40) end
    if cp < 0x10000 then
      return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
    end
    return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
      0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  local function skip(s, i) return find(s, '[^ \t\r\n]', i) end
  local function str(s, i)
    local parts, n, j = {}, 0, i + 1
    while true do
      local k = find(s, '["\\]', j)
      if k > j then n = n + 1; parts[n] = sub(s, j, k - 1) end
      if byte(s, k) == 34 then return table.concat(parts), k + 1 end
      local e = byte(s, k + 1)
      if e == 117 then
        local cp, nxt = tonumber(sub(s, k + 2, k + 5), 16), k + 6
        if cp >= 0xD800 and cp <= 0xDBFF and sub(s, nxt, nxt + 1) == '\\u' then
          local lo = tonumber(sub(s, nxt + 2, nxt + 5), 16)
          if lo >= 0xDC00 and lo <= 0xDFFF then
            cp, nxt = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00), nxt + 6
          end
        end
        n = n + 1; parts[n] = utf8(cp); j = nxt
      else
        n = n + 1; parts[n] = escapes[e]; j = k + 2
      end
    end
  end
  local value
  value = function(s, i)
    i = skip(s, i)
    local c = byte(s, i)
    if c == 123 then
      local obj = setmetatable({}, OBJECT)
      i = skip(s, i + 1)
      if byte(s, i) == 125 then return obj, i + 1 end
      while true do
        local k, v
        k, i = str(s, skip(s, i))
        v, i = value(s, skip(s, i) + 1)
        obj[k] = v
        i = skip(s, i)
        if byte(s, i) == 125 then return obj, i + 1 end
        i = i + 1
      end
    elseif c == 91 then
      local arr, n = setmetatable({}, ARRAY), 0
      i = skip(s, i + 1)
      if byte(s, i) == 93 then return arr, i + 1 end
      while true do
        local v
        v, i = value(s, i)
        n = n + 1; arr[n] = v
        i = skip(s, i)
        if byte(s, i) == 93 then return arr, i + 1 end
        i = i + 1
      end
    elseif c == 34 then return str(s, i)
    elseif c == 116 then return true, i + 4
    elseif c == 102 then return false, i + 5
    elseif c == 110 then return NULL, i + 4
    end
    local _, e = find(s, '^-?[%d%.eE+-]+', i)
    return tonumber(sub(s, i, e)), e + 1
  end
  json_decode = function(s) return (value(s, 1)) end
end

-- Numbers as JavaScript's Number#toString prints them: shortest round-trip digits.
local function json_number(n)
  if n ~= n or n == math.huge or n == -math.huge then return 'null' end
  if n == 0 then return '0' end
  if n == math.floor(n) and n > -9007199254740992 and n < 9007199254740992 then
    return string.format('%.0f', n)
  end
  local s
  for p = 0, 16 do
    s = string.format('%.' .. p .. 'e', n)
    if tonumber(s) == n then break end
  end
  local sign, int, frac, exp = string.match(s, '^(-?)(%d)%.?(%d*)e([-+]%d+)$')
  local digits = string.gsub(int .. frac, '0+$', '')
  if digits == '' then digits = '0' end
  local k, e = #digits, tonumber(exp) + 1
  local out
  if k <= e and e <= 21 then
    out = digits .. string.rep('0', e - k)
  elseif 0 < e and e <= 21 then
    out = string.sub(digits, 1, e) .. '.' .. string.sub(digits, e + 1)
  elseif -6 < e and e <= 0 then
    out = '0.' .. string.rep('0', -e) .. digits
  else
    local x = e - 1
    local xs = x >= 0 and ('+' .. x) or tostring(x)
    if k == 1 then out = digits .. 'e' .. xs
    else out = string.sub(digits, 1, 1) .. '.' .. string.sub(digits, 2) .. 'e' .. xs end
  end
  return sign .. out
end

local JSON_ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function json_escape_char(c) return JSON_ESCAPES[c] or string.format('\\u%04x', string.byte(c)) end
local function json_string(s) return '"' .. (string.gsub(s, '[%z\1-\31"\\]', json_escape_char)) .. '"' end

local function json_encode_into(v, buf)
  local t = type(v)
  if t == 'string' then buf[#buf + 1] = json_string(v)
  elseif t == 'number' then buf[#buf + 1] = json_number(v)
  elseif t == 'boolean' then buf[#buf + 1] = v and 'true' or 'false'
  elseif v == NULL then buf[#buf + 1] = 'null'
  elseif getmetatable(v) == ARRAY then
    buf[#buf + 1] = '['
    for i = 1, #v do
      if i > 1 then buf[#buf + 1] = ',' end
      json_encode_into(v[i], buf)
    end
    buf[#buf + 1] = ']'
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, byte_less)
    buf[#buf + 1] = '{'
    for i, k in ipairs(keys) do
      if i > 1 then buf[#buf + 1] = ',' end
      buf[#buf + 1] = json_string(k)
      buf[#buf + 1] = ':'
      json_encode_into(v[k], buf)
    end
    buf[#buf + 1] = '}'
  end
end

local function json_encode(v)
  local buf = {}
  json_encode_into(v, buf)
  return table.concat(buf)
end
