-- Typed settings (issue 24). A script cannot run a JSON Schema validator, so
-- Node checks a write against the schemas of the keys it writes
-- (src/domain/typed-writes.ts) before the script runs, and the script makes
-- sure that check still holds when it commits:
--   - this shard's schema generation is still the one Node's schemas were
--     read at (every schema change moves each shard's generation after the
--     registry, src/store/redis/schema-registry.ts);
--   - for a write whose result depends on a stored value (a path write into
--     a key that has a schema), that value's text is still the one checked.
-- If not, the answer is SCHEMA_STALE and nothing is applied: Node reads again
-- and retries. When the value moved, the answer carries its text now (false
-- when absent), so the retry needs no read of its own and arrives sooner
-- than a competitor's next write. A write the check refused is answered here as well, after the
-- session and compare-and-set checks, in the order the engine keeps.
--- @include "includes/codes"

-- An error reply, or nil to go on. `verdict` is 'invalid' when Node's check
-- refused the write; `cas_key` ('' = none) names the settings field whose
-- text must still be `cas_text` ('' = absent) in the hash `hash`.
local function check_schema(gen_key, gen, verdict, hash, cas_key, cas_text)
  if (redis.call('GET', gen_key) or '0') ~= gen then return { E.SCHEMA_STALE } end
  if cas_key ~= '' then
    local now = redis.call('HGET', hash, cas_key)
    if (now or '') ~= cas_text then return { E.SCHEMA_STALE, now or false } end
  end
  if verdict == 'invalid' then return { E.SCHEMA_INVALID } end
  return nil
end
