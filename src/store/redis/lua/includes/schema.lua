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
-- when absent), so the retry needs no read of its own.
--
-- Progress under contention: a write that has already lost its
-- compare-and-set may *claim* the field when it loses again (a key beside
-- the hash, expiring by itself). While a claim of another write stands, a
-- write of that field answers SCHEMA_STALE with 'claimed' and waits a moment;
-- the claimant's next try cannot lose to it, and clears the claim. A write the check refused is answered here as well, after the
-- session and compare-and-set checks, in the order the engine keeps.
--- @include "includes/codes"

-- An error reply, or nil to go on. `verdict` is 'invalid' when Node's check
-- refused the write; `cas_key` ('' = none) names the settings field whose
-- text must still be `cas_text` ('' = absent) in the hash `hash`; `claim`
-- is { key, token, '1' to claim on a loss, ms it holds } for such a write.
local function check_schema(gen_key, gen, verdict, hash, cas_key, cas_text, claim)
  if (redis.call('GET', gen_key) or '0') ~= gen then return { E.SCHEMA_STALE } end
  if cas_key ~= '' then
    local now = redis.call('HGET', hash, cas_key)
    local holder = redis.call('GET', claim[1])
    if holder and holder ~= claim[2] then return { E.SCHEMA_STALE, now or false, 'claimed' } end
    if (now or '') ~= cas_text then
      if claim[3] == '1' then redis.call('SET', claim[1], claim[2], 'PX', claim[4]) end
      return { E.SCHEMA_STALE, now or false }
    end
    if holder then redis.call('DEL', claim[1]) end
  end
  if verdict == 'invalid' then return { E.SCHEMA_INVALID } end
  return nil
end
