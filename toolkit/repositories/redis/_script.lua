-- Every write of the Redis backend, as one atomic script (this file, then _delete.lua,
-- _unit.lua, _batch.lua and _run.lua, joined by toolkit/repositories/redis/_script.py). A
-- create, update or upsert outside units and batches runs a shorter script, this file and
-- _run.lua alone, which sets up less before it writes.
--
-- ARGV[1]  the operation: "create" | "update" | "upsert" | "delete", or one of a unit's
--          (_unit.lua) or a staged batch's (_batch.lua)
-- ARGV[2]  the plan (JSON): {"root": table, "tables": {name: {key, meta, ids, seq, wide, gate,
--          changes, pk, numeric, unique, fks, refs}}}, made by
--          toolkit/repositories/redis/_script.py ("" for a unit: each operation has its own;
--          for a write of rows, create, update or upsert, the root table's alone)
-- ARGV[3]  the staged batch the call belongs to, or ""
-- create:  ARGV[4..] triples (primary key token, or "" on an integer key to generate one;
--          document JSON; constraint tokens JSON {"u": {group: token}, "f": {field: token},
--          "w": [fields holding integers beyond 2**53], "v": the version the stored row
--          must be at, on a versioned model's update})
-- update:  ARGV[4..] such triples, every row existing
-- upsert:  ARGV[4..6] one such triple: an update if the row exists, else a create
-- delete:  ARGV[4..] primary key tokens; missing rows are passed over
--
-- Returns {"ok", token...} (delete: the tokens of the rows it deleted; upsert: the token,
-- then "updated" if the row existed), or {"conflict" | "constraint" | "notfound" | "busy" |
-- "stale", field, item number[, the stored version, for "stale"]}.
-- Every check runs before the first write, so a refused call writes nothing.

local op = ARGV[1]
local batch = ARGV[3]
-- The operation's arguments (A, from FIRST on) and plan: a unit (_unit.lua) runs several
-- operations in one run, and points these at each in turn.
local A, FIRST = ARGV, 4
local plan, root
local plans = {}
local function use_plan(json)
  plan = plans[json]
  if not plan then
    plan = cjson.decode(json)
    plans[json] = plan
  end
  root = plan.tables[plan.root]
end
if ARGV[2] ~= "" then use_plan(ARGV[2]) end
local ops = {}

-- A unit's journal (_unit.lua): what each key, hash field and set member held before the run
-- first wrote it, so that a refusal by a later operation undoes the earlier ones. Off (nil)
-- outside units: a single operation checks everything before its first write.
local journal
local journaled = {}
local function note(kind, key, member)
  if not journal then return end
  local id = kind .. "\0" .. key .. "\0" .. (member or "")
  if journaled[id] then return end
  journaled[id] = true
  local old
  if kind == "doc" then old = redis.call("DUMP", key)
  elseif kind == "string" then old = redis.call("GET", key)
  elseif kind == "hash" then old = redis.call("HGET", key, member)
  elseif kind == "set" then old = redis.call("SISMEMBER", key, member) == 1
  else old = redis.call("ZSCORE", key, member) end
  journal[#journal + 1] = {kind, key, member or "", old}
end

-- Each table written moves its change counter, once per run: a unit that queried the table
-- checks at its end that the counter has not moved since (_unit.lua).
local touched = {}
local function touch(t)
  if touched[t.changes] then return end
  touched[t.changes] = true
  note("string", t.changes)
  redis.call("INCR", t.changes)
end

local function stored_version(key)
  local raw = redis.call("JSON.GET", key, "$.version")
  local found = raw and cjson.decode(raw)[1]
  if found == nil then return "" end
  return string.format("%d", found)
end

-- A key component, encoded as toolkit/repositories/redis/_keys.py's key_component does.
local function component(text)
  if not string.find(text, "[%%:{}]") then return text end
  return (string.gsub(text, "[%%:{}]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local function doc_key(t, token) return t.key .. component(token) end
local function ids_key(t) return t.ids end
local function seq_key(t) return t.seq end
local function unique_key(t, group) return t.meta .. "unique:" .. group end
local function children_key(t, field, parent) return t.meta .. "fk:" .. field .. ":" .. parent end
local function field_path(name) return '$["' .. name .. '"]' end
local function batch_key(t, id, part) return t.meta .. "batch:" .. id .. ":" .. part end

-- Staged batches (_batch.lua) list themselves in a table's gate (a hash: batch id -> state);
-- the rows a batch in progress writes are locked against every other write until it ends.
-- The other batches of each gate, read once per run: none can begin while this run lasts.
local others = {}
local function locked(t, token)
  local ids = others[t.gate]
  if ids == nil then
    ids = {}
    for _, id in ipairs(redis.call("HKEYS", t.gate)) do
      if id ~= batch then ids[#ids + 1] = id end
    end
    others[t.gate] = ids
  end
  for _, id in ipairs(ids) do
    if redis.call("SISMEMBER", batch_key(t, id, "new"), token) == 1
      or redis.call("HEXISTS", batch_key(t, id, "old"), token) == 1
      or redis.call("SISMEMBER", batch_key(t, id, "gone"), token) == 1 then
      return true
    end
  end
  return false
end

local function has_field(group, field)
  for name in string.gmatch(group, "[^,]+") do
    if name == field then return true end
  end
  return false
end

local function stored_keys(key)
  local raw = redis.call("JSON.GET", key, "$.__keys")
  if not raw then return nil end
  return cjson.decode(raw)[1]
end

-- The rows created, in the table's sorted set of ids (see _keys.py): one ZADD a thousand.
local function add_ids(t, tokens)
  local scored = {}
  for _, token in ipairs(tokens) do
    note("zset", ids_key(t), token)
    scored[#scored + 1] = t.numeric and token or 0
    scored[#scored + 1] = token
  end
  for i = 1, #scored, 2000 do
    redis.call("ZADD", ids_key(t), unpack(scored, i, math.min(i + 1999, #scored)))
  end
end

local function hset(key, field, value)
  note("hash", key, field)
  redis.call("HSET", key, field, value)
end
local function hdel(key, field)
  note("hash", key, field)
  redis.call("HDEL", key, field)
end
local function sadd(key, member)
  note("set", key, member)
  redis.call("SADD", key, member)
end
local function srem(key, member)
  note("set", key, member)
  redis.call("SREM", key, member)
end
local function json_set(key, path, value)
  note("doc", key)
  redis.call("JSON.SET", key, path, value)
end

-- The fields that have held an integer beyond 2**53 (listed by the caller): the search index
-- holds them as doubles, so queries ordered by them are ordered outside the index.
local function note_wide(t, keys)
  if keys.w then
    for _, field in ipairs(keys.w) do sadd(t.wide, field) end
  end
end

local function missing_parent(t, keys, created)
  for _, fk in ipairs(t.fks) do
    local token = keys.f[fk.field]
    local parent = token and fk.parent .. component(token)
    if parent and not created[parent] then
      if redis.call("EXISTS", parent) == 0 then return "constraint", fk.field end
      if locked(fk.parent_table, token) then return "busy", fk.field end
    end
  end
  return nil
end

-- How a staged batch keeps what it writes apart until it ends (no-ops outside one).
local staged = {
  created = function(t, tokens) end,  -- rows it created: hidden until it commits
  updating = function(t, token, key) end,  -- a row about to change: its old version kept
  releases = function(t, owner, group, value) return false end,  -- let go of within it?
}

-- A document's JSON with its generated integer key put in first (the caller leaves a key it
-- does not know out of the document): one write of the whole document, indexed once.
local function with_key(doc, token)
  local rest = string.sub(doc, 2)
  if rest ~= "}" then rest = "," .. rest end
  return '{"' .. root.pk .. '":' .. token .. rest
end

-- The constraint tokens of a row that has none, as _documents.py sends them, and decoded.
local NOTHING_TOLD, NO_KEYS = '{"u":{},"f":{}}', {u = {}, f = {}}

local function create()
  local count = (#A - FIRST + 1) / 3
  local tokens, keys_of, told, generated, created, claimed = {}, {}, {}, {}, {}, {}
  local seq = seq_key(root)
  for i = 1, count do
    local token, raw = A[3 * i + FIRST - 3], A[3 * i + FIRST - 1]
    local keys = raw == NOTHING_TOLD and NO_KEYS or cjson.decode(raw)  -- NO_KEYS: read only
    local key
    if token == "" and root.numeric then
      repeat
        token = string.format("%d", redis.call("INCR", seq))
        key = doc_key(root, token)
      until not created[key] and redis.call("EXISTS", key) == 0
      generated[i] = true
    else
      key = doc_key(root, token)
      if created[key] or redis.call("EXISTS", key) == 1 then
        if locked(root, token) then return {"busy", root.pk, i} end
        return {"conflict", root.pk, i}
      end
    end
    for group, value in pairs(keys.u) do
      local slot = unique_key(root, group) .. "\0" .. value
      if claimed[slot] or redis.call("HEXISTS", unique_key(root, group), value) == 1 then
        return {"conflict", group, i}
      end
      claimed[slot] = true
    end
    created[key] = true
    local kind, field = missing_parent(root, keys, created)
    if kind then return {kind, field, i} end
    tokens[i], keys_of[i], told[i] = token, key, keys
  end
  local result = {"ok"}
  if count > 0 then touch(root) end
  -- An explicit integer key moves the key counter past it, so that generated keys seldom meet
  -- taken ones (they skip those they meet). Keys from 2**62 up leave it where it is: a counter
  -- moved to the top of the 64-bit range would have no keys left to generate.
  local counter, top
  for i = 1, count do
    local token, key, keys = tokens[i], keys_of[i], told[i]
    if generated[i] then
      json_set(key, "$", with_key(A[3 * i + FIRST - 2], token))
    else
      json_set(key, "$", A[3 * i + FIRST - 2])
      if root.numeric then
        counter = counter or tonumber(redis.call("GET", seq) or "0")
        local explicit = tonumber(token)
        if explicit > counter and explicit < 4611686018427387904 then
          counter, top = explicit, token
        end
      end
    end
    -- A versioned row is created at version 1 (an upsert's copy may say otherwise).
    if keys.v and keys.v ~= 0 then json_set(key, "$.version", "1") end
    note_wide(root, keys)
    for group, value in pairs(keys.u) do hset(unique_key(root, group), value, token) end
    for _, fk in ipairs(root.fks) do
      local parent = keys.f[fk.field]
      if parent then sadd(children_key(root, fk.field, parent), token) end
    end
    result[i + 1] = token
  end
  if top then
    note("string", seq)
    redis.call("SET", seq, top)
  end
  staged.created(root, tokens)
  add_ids(root, tokens)
  return result
end

local function update()
  local count = (#A - FIRST + 1) / 3
  local claimed, released, olds, versions = {}, {}, {}, {}
  for i = 1, count do
    local token = A[3 * i + FIRST - 3]
    local key = doc_key(root, token)
    if redis.call("EXISTS", key) == 0 then return {"notfound", root.pk, i} end
    if locked(root, token) then return {"busy", root.pk, i} end
    local keys = cjson.decode(A[3 * i + FIRST - 1])
    if keys.v then  -- a versioned row: written only at the copy's version
      -- A row given twice is checked the second time at the version the first writes, as
      -- SQL checks row after row.
      local current = versions[key] or stored_version(key)
      if current ~= string.format("%d", keys.v) then return {"stale", "version", i, current} end
      versions[key] = string.format("%d", keys.v + 1)
    end
    local old = stored_keys(key) or {u = {}, f = {}}
    olds[i] = old
    -- As SQL checks row after row: what an earlier row of the batch let go of is free.
    for group, value in pairs(old.u) do
      if keys.u[group] ~= value then released[unique_key(root, group) .. "\0" .. value] = true end
    end
    for group, value in pairs(keys.u) do
      local slot = unique_key(root, group) .. "\0" .. value
      if claimed[slot] and claimed[slot] ~= token then return {"conflict", group, i} end
      if old.u[group] ~= value and not released[slot] then
        local owner = redis.call("HGET", unique_key(root, group), value)
        if owner and owner ~= token and not staged.releases(root, owner, group, value) then
          return {"conflict", group, i}
        end
      end
      claimed[slot] = token
      released[slot] = nil
    end
    local kind, field = missing_parent(root, keys, {})
    if kind then return {kind, field, i} end
  end
  local result = {"ok"}
  if count > 0 then touch(root) end
  for i = 1, count do
    local token = A[3 * i + FIRST - 3]
    local key = doc_key(root, token)
    local keys = cjson.decode(A[3 * i + FIRST - 1])
    local old = stored_keys(key) or olds[i]
    local keeping = staged.updating(root, token, key)  -- a staged batch keeps what it lets go
    json_set(key, "$", A[3 * i + FIRST - 2])
    note_wide(root, keys)
    for group, value in pairs(old.u) do
      if not keeping and keys.u[group] ~= value
        and redis.call("HGET", unique_key(root, group), value) == token then
        hdel(unique_key(root, group), value)
      end
    end
    for group, value in pairs(keys.u) do hset(unique_key(root, group), value, token) end
    for _, fk in ipairs(root.fks) do
      local before, after = old.f[fk.field], keys.f[fk.field]
      if before ~= after then
        if before and not keeping then srem(children_key(root, fk.field, before), token) end
        if after then sadd(children_key(root, fk.field, after), token) end
      end
    end
    result[i + 1] = token
  end
  return result
end

local function upsert()
  local token = A[FIRST]
  local generate = token == "" and root.numeric
  if not generate and redis.call("EXISTS", doc_key(root, token)) == 1 then
    local result = update()
    if result[1] == "ok" then result[3] = "updated" end
    return result
  end
  return create()
end

ops.create, ops.update, ops.upsert = create, update, upsert
