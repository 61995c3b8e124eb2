-- Units of work (toolkit/repositories/redis/_unit.py) and what they need besides the writes
-- of _script.lua. Appended to _script.lua and _delete.lua, whose functions it uses.
--
-- reserve    ARGV[4]: how many integer keys to take from the root table's counter for rows a
--            unit will create; ARGV[5..]: document keys the unit writes already. Keys taken
--            by rows, or by those writes, are skipped; {"ok", token...}. Never given back,
--            as a SQL sequence.
-- delete_at  ARGV[4..5]: a primary key token and a version: the row is deleted only at that
--            version ({"ok", token}; a missing row: {"ok"}), else {"stale", "version", 1,
--            the stored version}
-- unit       a unit's end: ARGV[4] the number of rows it read, then for each its document
--            key and the SHA1 of its JSON.GET <key> $ reply as read ("" if it was missing);
--            then the number of tables it queried, then for each its change counter and the
--            value read before the query ("" if none); then its operations, each as its
--            name, its plan, the number of its arguments and the arguments. Nothing is
--            written unless everything read is unchanged ({"changed", key, 0, ""}); the
--            operations then run in order, and a refusal by any of them undoes the ones
--            before it: {kind, field, item, extra, operation number}. {"ok"} when all ran.
-- check      as unit, without checking what it read, and undoing everything even when all
--            ran: whether the operations would be refused, asked at a nested block's end.

ops.reserve = function()
  local tokens, skip = {"ok"}, {}
  for i = FIRST + 1, #A do skip[A[i]] = true end  -- document keys the block writes already
  for _ = 1, tonumber(A[FIRST]) do
    local token
    repeat
      token = string.format("%d", redis.call("INCR", seq_key(root)))
    until redis.call("EXISTS", doc_key(root, token)) == 0 and not skip[doc_key(root, token)]
    tokens[#tokens + 1] = token
  end
  return tokens
end

ops.delete_at = function()
  local token, version = A[FIRST], A[FIRST + 1]
  local key = doc_key(root, token)
  if redis.call("EXISTS", key) == 0 then return {"ok"} end
  local current = stored_version(key)
  if current ~= version then return {"stale", "version", 1, current} end
  return delete({token})
end

-- Put back every key, field and member the run wrote, as it was before the run.
local function undo()
  for i = #journal, 1, -1 do
    local kind, key, member, old = unpack(journal[i])
    if kind == "doc" then
      if old then redis.call("RESTORE", key, 0, old, "REPLACE") else redis.call("DEL", key) end
    elseif kind == "string" then
      if old then redis.call("SET", key, old) else redis.call("DEL", key) end
    elseif kind == "hash" then
      if old then redis.call("HSET", key, member, old) else redis.call("HDEL", key, member) end
    elseif kind == "set" then
      if old then redis.call("SADD", key, member) else redis.call("SREM", key, member) end
    elseif old then
      redis.call("ZADD", key, old, member)
    else
      redis.call("ZREM", key, member)
    end
  end
  journal = {}
end

-- The document or counter, among those the unit read, that has changed since (nil if none),
-- and where its operations begin in ARGV. ``dry``: nothing is checked.
local function changed_reads(dry)
  local at = FIRST
  for _, read in ipairs({"JSON.GET", "GET"}) do
    for _ = 1, tonumber(ARGV[at]) do
      local key, expected = ARGV[at + 1], ARGV[at + 2]
      if not dry then
        local raw = read == "GET" and redis.call("GET", key) or redis.call("JSON.GET", key, "$")
        if read == "JSON.GET" and raw then raw = redis.sha1hex(raw) end
        if (raw or "") ~= expected then return key, at end
      end
      at = at + 2
    end
    at = at + 1
  end
  return nil, at
end

local function run_unit(dry)
  local changed, at = changed_reads(dry)
  if changed then return {"changed", changed, 0, ""} end
  journal = {}
  local number = 0
  while at <= #ARGV do
    local name, count = ARGV[at], tonumber(ARGV[at + 2])
    use_plan(ARGV[at + 1])
    A, FIRST = {}, 1
    for i = 1, count do A[i] = ARGV[at + 2 + i] end
    at = at + 3 + count
    number = number + 1
    local ok, result = pcall(ops[name])
    if not ok then  -- a command failed part-way: undone, then reported as the error it was
      undo()
      return redis.error_reply(type(result) == "table" and result.err or tostring(result))
    end
    if result[1] ~= "ok" then
      undo()
      return {result[1], result[2], result[3], result[4] or "", number}
    end
  end
  if dry then undo() end
  return {"ok"}
end

ops.unit = function() return run_unit(false) end
ops.check = function() return run_unit(true) end
