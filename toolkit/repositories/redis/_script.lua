-- Every write of the Redis backend, as one atomic script.
--
-- ARGV[1]  the operation: "create" | "update" | "upsert" | "delete", or one of a staged
--          batch's (_batch.lua)
-- ARGV[2]  the plan (JSON): {"root": table, "tables": {name: {key, meta, ids, seq, wide, gate,
--          pk, numeric, unique, fks, refs}}}, made by toolkit/repositories/redis/_script.py
-- ARGV[3]  the staged batch the call belongs to, or ""
-- create:  ARGV[4..] triples (primary key token, or "" on an integer key to generate one;
--          document JSON; constraint tokens JSON {"u": {group: token}, "f": {field: token},
--          "w": [fields holding integers beyond 2**53]})
-- update:  ARGV[4..] such triples, every row existing
-- upsert:  ARGV[4..6] one such triple: an update if the row exists, else a create
-- delete:  ARGV[4..] primary key tokens; missing rows are passed over
--
-- Returns {"ok", token...} (delete: the tokens of the rows it deleted), or
-- {"conflict" | "constraint" | "notfound" | "busy", field, item number}.
-- Every check runs before the first write, so a refused call writes nothing.

local op = ARGV[1]
local plan = cjson.decode(ARGV[2])
local root = plan.tables[plan.root]
local batch = ARGV[3]
local FIRST = 4  -- the first argument of the operation's own
local ops = {}

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

local function add_id(t, token)
  local score = 0
  if t.numeric then score = token end
  redis.call("ZADD", ids_key(t), score, token)
end

-- The fields that have held an integer beyond 2**53 (listed by the caller): the search index
-- holds them as doubles, so queries ordered by them are ordered outside the index.
local function note_wide(t, keys)
  if keys.w then
    for _, field in ipairs(keys.w) do redis.call("SADD", t.wide, field) end
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
  created = function(t, token) end,  -- a row it created: hidden until it commits
  updating = function(t, token, key) end,  -- a row about to change: its old version kept
  releases = function(t, owner, group, value) return false end,  -- let go of within it?
}

local function create()
  local count = (#ARGV - FIRST + 1) / 3
  local tokens, generated, created, claimed = {}, {}, {}, {}
  for i = 1, count do
    local token = ARGV[3 * i + FIRST - 3]
    local keys = cjson.decode(ARGV[3 * i + FIRST - 1])
    if token == "" and root.numeric then
      repeat
        token = string.format("%d", redis.call("INCR", seq_key(root)))
      until redis.call("EXISTS", doc_key(root, token)) == 0 and not created[doc_key(root, token)]
      generated[i] = true
    elseif created[doc_key(root, token)] or redis.call("EXISTS", doc_key(root, token)) == 1 then
      if locked(root, token) then return {"busy", root.pk, i} end
      return {"conflict", root.pk, i}
    end
    for group, value in pairs(keys.u) do
      local slot = unique_key(root, group) .. "\0" .. value
      if claimed[slot] or redis.call("HEXISTS", unique_key(root, group), value) == 1 then
        return {"conflict", group, i}
      end
      claimed[slot] = true
    end
    created[doc_key(root, token)] = true
    local kind, field = missing_parent(root, keys, created)
    if kind then return {kind, field, i} end
    tokens[i] = token
  end
  local result = {"ok"}
  for i = 1, count do
    local token = tokens[i]
    local key = doc_key(root, token)
    local keys = cjson.decode(ARGV[3 * i + FIRST - 1])
    redis.call("JSON.SET", key, "$", ARGV[3 * i + FIRST - 2])
    staged.created(root, token)
    if generated[i] then
      redis.call("JSON.SET", key, field_path(root.pk), token)
    elseif root.numeric then
      -- An explicit integer key moves the counter past it, so that generated keys seldom meet
      -- taken ones (they skip those they meet). Keys from 2**62 up leave it where it is: a
      -- counter moved to the top of the 64-bit range would have no keys left to generate.
      local current = tonumber(redis.call("GET", seq_key(root)) or "0")
      local explicit = tonumber(token)
      if explicit > current and explicit < 4611686018427387904 then
        redis.call("SET", seq_key(root), token)
      end
    end
    add_id(root, token)
    note_wide(root, keys)
    for group, value in pairs(keys.u) do
      redis.call("HSET", unique_key(root, group), value, token)
    end
    for _, fk in ipairs(root.fks) do
      local parent = keys.f[fk.field]
      if parent then redis.call("SADD", children_key(root, fk.field, parent), token) end
    end
    result[i + 1] = token
  end
  return result
end

local function update()
  local count = (#ARGV - FIRST + 1) / 3
  local claimed, released, olds = {}, {}, {}
  for i = 1, count do
    local token = ARGV[3 * i + FIRST - 3]
    local key = doc_key(root, token)
    if redis.call("EXISTS", key) == 0 then return {"notfound", root.pk, i} end
    if locked(root, token) then return {"busy", root.pk, i} end
    local keys = cjson.decode(ARGV[3 * i + FIRST - 1])
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
  for i = 1, count do
    local token = ARGV[3 * i + FIRST - 3]
    local key = doc_key(root, token)
    local keys = cjson.decode(ARGV[3 * i + FIRST - 1])
    local old = stored_keys(key) or olds[i]
    local keeping = staged.updating(root, token, key)  -- a staged batch keeps what it lets go
    redis.call("JSON.SET", key, "$", ARGV[3 * i + FIRST - 2])
    note_wide(root, keys)
    for group, value in pairs(old.u) do
      if not keeping and keys.u[group] ~= value
        and redis.call("HGET", unique_key(root, group), value) == token then
        redis.call("HDEL", unique_key(root, group), value)
      end
    end
    for group, value in pairs(keys.u) do
      redis.call("HSET", unique_key(root, group), value, token)
    end
    for _, fk in ipairs(root.fks) do
      local before, after = old.f[fk.field], keys.f[fk.field]
      if before ~= after then
        if before and not keeping then
          redis.call("SREM", children_key(root, fk.field, before), token)
        end
        if after then redis.call("SADD", children_key(root, fk.field, after), token) end
      end
    end
    result[i + 1] = token
  end
  return result
end

local function upsert()
  local token = ARGV[FIRST]
  local generate = token == "" and root.numeric
  if not generate and redis.call("EXISTS", doc_key(root, token)) == 1 then return update() end
  return create()
end

-- Rows gone for good, with the bookkeeping of their constraint values: one DEL and one ZREM
-- per thousand rows. ``tokens`` are rows of ``t`` (those no longer there are passed over).
local function remove(t, tokens)
  local doomed, ids = {}, {}
  local function flush()
    if #ids > 0 then
      redis.call("DEL", unpack(doomed))
      redis.call("ZREM", ids_key(t), unpack(ids))
    end
    doomed, ids = {}, {}
  end
  for _, doc in ipairs(tokens) do
    local key = doc_key(t, doc)
    if #t.unique > 0 or #t.fks > 0 then
      local old = stored_keys(key)
      if old then
        for group, value in pairs(old.u) do
          if redis.call("HGET", unique_key(t, group), value) == doc then
            redis.call("HDEL", unique_key(t, group), value)
          end
        end
        for _, fk in ipairs(t.fks) do
          local parent = old.f[fk.field]
          if parent then redis.call("SREM", children_key(t, fk.field, parent), doc) end
        end
      end
    end
    doomed[#doomed + 1] = key
    ids[#ids + 1] = doc
    if #ids >= 1000 then flush() end
  end
  flush()
end

-- ON DELETE SET NULL: ``field`` of row ``member`` of ``child`` becomes NULL. A staged batch
-- keeps the unique values and the parent it lets go of until it ends (``keeping``).
local function set_null(child, member, field, parent)
  local key = doc_key(child, member)
  local keeping = staged.updating(child, member, key)
  redis.call("JSON.DEL", key, field_path(field))  -- NULL: no field (see _documents.py)
  redis.call("JSON.DEL", key, '$.__keys.f["' .. field .. '"]')
  -- A unique constraint with a NULL in it holds nothing (as in SQL): free its value.
  local old = stored_keys(key)
  for _, group in ipairs(child.unique) do
    local value = old and old.u[group]
    if value and has_field(group, field) then
      if not keeping then redis.call("HDEL", unique_key(child, group), value) end
      redis.call("JSON.DEL", key, '$.__keys.u["' .. group .. '"]')
    end
  end
  if not keeping then redis.call("SREM", children_key(child, field, parent), member) end
end

-- The rows a delete of ``tokens`` (of the root table) takes, by the foreign keys' ON DELETE
-- rules: {"ok", deletes, nulls, the root tokens deleted} or a refusal. Writes nothing.
local function delete_plan(tokens)
  local deletes, nulls, seen = {}, {}, {}
  local function collect(name, doc)
    local t = plan.tables[name]
    local key = doc_key(t, doc)
    if seen[key] then return nil end
    seen[key] = true
    if locked(t, doc) then return {"busy", t.pk, 1} end
    deletes[#deletes + 1] = {t, doc}
    for _, ref in ipairs(t.refs) do
      local child = plan.tables[ref.table]
      local members = redis.call("SMEMBERS", children_key(child, ref.field, doc))
      if #members > 0 then
        if ref.rule == "CASCADE" then
          for _, member in ipairs(members) do
            local refused = collect(ref.table, member)
            if refused then return refused end
          end
        elseif ref.rule == "SET NULL" and ref.nullable then
          for _, member in ipairs(members) do
            if locked(child, member) then return {"busy", ref.table .. "." .. ref.field, 1} end
            nulls[#nulls + 1] = {child, member, ref.field, doc}
          end
        else
          return {"constraint", ref.table .. "." .. ref.field, 1}
        end
      end
    end
    return nil
  end
  local deleted = {}
  for _, token in ipairs(tokens) do
    local key = doc_key(root, token)
    if not seen[key] and redis.call("EXISTS", key) == 1 then
      local refused = collect(plan.root, token)
      if refused then return refused end
      deleted[#deleted + 1] = token
    end
  end
  return {"ok", deletes, nulls, deleted}
end

local function delete_tokens()
  local tokens = {}
  for i = FIRST, #ARGV do tokens[#tokens + 1] = ARGV[i] end
  return tokens
end

local function delete()
  local found = delete_plan(delete_tokens())
  if found[1] ~= "ok" then return found end
  local deletes, nulls = found[2], found[3]
  local removed = {}
  for _, entry in ipairs(deletes) do removed[doc_key(entry[1], entry[2])] = true end
  for _, entry in ipairs(nulls) do
    local child, member, field, parent = entry[1], entry[2], entry[3], entry[4]
    if removed[doc_key(child, member)] then
      redis.call("SREM", children_key(child, field, parent), member)
    else
      set_null(child, member, field, parent)
    end
  end
  local by_table = {}
  for _, entry in ipairs(deletes) do
    local t = entry[1]
    by_table[t] = by_table[t] or {}
    table.insert(by_table[t], entry[2])
  end
  for t, tokens in pairs(by_table) do remove(t, tokens) end
  local result = {"ok"}
  for _, token in ipairs(found[4]) do result[#result + 1] = token end
  return result
end

ops.create, ops.update, ops.upsert, ops.delete = create, update, upsert, delete
