-- One row by key, or by the value of a single-column unique constraint, unless a staged batch
-- is in progress on its table (then the reader answers from the batch's records instead).
--
-- ARGV[1]  the table's gate (toolkit/repositories/redis/_keys.py)
-- ARGV[2]  the unique constraint's hash, or "" to read ARGV[3] as a document key
-- ARGV[3]  the unique value's token, or the document's key
-- ARGV[4]  the prefix of the table's document keys
--
-- Returns {"gated"}, {"ok"} (no such row) or {"ok", document JSON}.

if redis.call("EXISTS", ARGV[1]) == 1 then return {"gated"} end
local key = ARGV[3]
if ARGV[2] ~= "" then
  local token = redis.call("HGET", ARGV[2], ARGV[3])
  if not token then return {"ok"} end
  -- The key component of the token, encoded as _keys.py's key_component does.
  key = ARGV[4] .. string.gsub(token, "[%%:{}]", function(c)
    return string.format("%%%02X", string.byte(c))
  end)
end
return {"ok", redis.call("JSON.GET", key)}
