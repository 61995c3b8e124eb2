-- Deletes, with the foreign keys' ON DELETE rules (CASCADE, SET NULL, or a refusal).
-- Appended to _script.lua, whose functions it uses; _unit.lua and _batch.lua use these.

-- Rows gone for good, with the bookkeeping of their constraint values: one DEL and one ZREM
-- per thousand rows. ``tokens`` are rows of ``t`` (those no longer there are passed over).
local function remove(t, tokens)
  local doomed, ids = {}, {}
  local function flush()
    if #ids > 0 then
      if journal then
        for i = 1, #ids do
          note("doc", doomed[i])
          note("zset", ids_key(t), ids[i])
        end
      end
      touch(t)
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
            hdel(unique_key(t, group), value)
          end
        end
        for _, fk in ipairs(t.fks) do
          local parent = old.f[fk.field]
          if parent then srem(children_key(t, fk.field, parent), doc) end
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
  touch(child)
  note("doc", key)
  redis.call("JSON.DEL", key, field_path(field))  -- NULL: no field (see _documents.py)
  redis.call("JSON.DEL", key, '$.__keys.f["' .. field .. '"]')
  -- A unique constraint with a NULL in it holds nothing (as in SQL): free its value.
  local old = stored_keys(key)
  for _, group in ipairs(child.unique) do
    local value = old and old.u[group]
    if value and has_field(group, field) then
      if not keeping then hdel(unique_key(child, group), value) end
      redis.call("JSON.DEL", key, '$.__keys.u["' .. group .. '"]')
    end
  end
  if not keeping then srem(children_key(child, field, parent), member) end
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
  for i = FIRST, #A do tokens[#tokens + 1] = A[i] end
  return tokens
end

local function delete(tokens)
  local found = delete_plan(tokens)
  if found[1] ~= "ok" then return found end
  local deletes, nulls = found[2], found[3]
  local removed = {}
  for _, entry in ipairs(deletes) do removed[doc_key(entry[1], entry[2])] = true end
  for _, entry in ipairs(nulls) do
    local child, member, field, parent = entry[1], entry[2], entry[3], entry[4]
    if removed[doc_key(child, member)] then
      srem(children_key(child, field, parent), member)
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

ops.delete = function() return delete(delete_tokens()) end
