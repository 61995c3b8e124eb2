-- Staged batches: a create_many, update_many or delete_many too big for one script run (which
-- would keep every other client of the server waiting) runs as a batch of short runs, and is
-- still all or nothing. Appended to _script.lua and _delete.lua, whose functions it uses; ARGV[3] is the batch.
--
-- begin          the batch enters the root table's gate, pending
-- stage_create, stage_update, stage_delete
--                one chunk of rows, checked and written as create, update and delete do; the
--                rows written are recorded under the batch, and locked against other writes
-- commit         the batch, in every gate it is in, becomes committed
-- finish         ARGV[4]: about that many rows of the work left, after a commit (the rows
--                deleted go for good, the unique values and parents let go of are let go) or
--                without one (the batch is aborted: the rows created go, the rows changed are
--                put back); {"ok", "done"} once the batch has left every gate, else
--                {"ok", "more"}
-- expired        the batches in the plan's tables' gates whose lease ran out: a client that
--                died part-way leaves its batch to be finished by the next batch, or the
--                next reader that meets it
-- view           what readers of the root table see differently while batches are in
--                progress: {"ok", {batch, "before" | "after", ...}, hidden tokens,
--                {token, old document JSON, ...}, the batches whose lease ran out}
--
-- Per table and batch: ``batch:<id>:new`` (rows created: hidden before the commit), ``:old``
-- (rows changed: token -> old document, seen before the commit) and ``:gone`` (rows deleted:
-- seen before the commit, hidden after it). These records only grow while the batch is in one
-- state, and finish walks them with cursors (``:at``) and drops them, with the gate entry, in
-- its last run; a reader that reads the gate before and after its query, and finds every
-- batch on the same side of its commit, sees each batch whole or not at all
-- (toolkit/repositories/redis/_reader.py).

local LEASE_MS = 60000  -- a batch not heard from for this long may be finished by another

local function now_ms()
  local time = redis.call("TIME")
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function state(t)  -- this batch's state in t's gate: "pending", "committed" or nil
  local entry = redis.call("HGET", t.gate, batch)
  return entry and string.match(entry, "^(%a+)")
end

local function enter(t, name)  -- (re)enter t's gate as ``name``, the lease renewed
  redis.call("HSET", t.gate, batch, name .. " " .. (now_ms() + LEASE_MS))
end

local function no_keys() return {u = {}, f = {}} end

local function document_keys(json)
  return cjson.decode(json).__keys or no_keys()
end

if batch ~= "" then
  staged.created = function(t, tokens)
    for i = 1, #tokens, 1000 do
      redis.call("SADD", batch_key(t, batch, "new"), unpack(tokens, i, math.min(i + 999, #tokens)))
    end
  end
  staged.updating = function(t, token, key)
    if not state(t) then enter(t, "pending") end
    redis.call("HSETNX", batch_key(t, batch, "old"), token, redis.call("JSON.GET", key))
    return true
  end
  staged.releases = function(t, owner, group, value)
    if redis.call("HEXISTS", batch_key(t, batch, "old"), owner) == 0 then return false end
    local current = stored_keys(doc_key(t, owner))
    return not current or current.u[group] ~= value
  end
end

-- A changed row, once its batch has committed: the unique values and the parent it let go of
-- are let go now.
local function settle(t, token, before)
  touch(t)
  local was, now = document_keys(before), stored_keys(doc_key(t, token)) or no_keys()
  for group, value in pairs(was.u) do
    if now.u[group] ~= value and redis.call("HGET", unique_key(t, group), value) == token then
      redis.call("HDEL", unique_key(t, group), value)
    end
  end
  for _, fk in ipairs(t.fks) do
    local parent = was.f[fk.field]
    if parent and parent ~= now.f[fk.field] then
      redis.call("SREM", children_key(t, fk.field, parent), token)
    end
  end
end

-- A changed row, when its batch did not commit: put back as it was.
local function restore(t, token, before)
  touch(t)
  local key = doc_key(t, token)
  local was, now = document_keys(before), stored_keys(key) or no_keys()
  redis.call("JSON.SET", key, "$", before)
  for group, value in pairs(now.u) do
    if was.u[group] ~= value and redis.call("HGET", unique_key(t, group), value) == token then
      redis.call("HDEL", unique_key(t, group), value)
    end
  end
  for group, value in pairs(was.u) do redis.call("HSET", unique_key(t, group), value, token) end
  for _, fk in ipairs(t.fks) do
    local from, to = now.f[fk.field], was.f[fk.field]
    if from ~= to then
      if from then redis.call("SREM", children_key(t, fk.field, from), token) end
      if to then redis.call("SADD", children_key(t, fk.field, to), token) end
    end
  end
end

local EXPIRED = {"expired", "", 0}

local function staging(write)
  return function()
    if state(root) ~= "pending" then return EXPIRED end
    enter(root, "pending")
    return write()
  end
end

ops.begin = function()
  enter(root, "pending")
  return {"ok"}
end

ops.stage_create = staging(create)
ops.stage_update = staging(update)
ops.stage_delete = staging(function()
  local found = delete_plan(delete_tokens())
  if found[1] ~= "ok" then return found end
  local deletes, nulls = found[2], found[3]
  local removed = {}
  for _, entry in ipairs(deletes) do
    local t, doc = entry[1], entry[2]
    if not state(t) then enter(t, "pending") end
    redis.call("SADD", batch_key(t, batch, "gone"), doc)
    removed[doc_key(t, doc)] = true
  end
  for _, entry in ipairs(nulls) do
    local child, member = entry[1], entry[2]
    if not removed[doc_key(child, member)] then set_null(child, member, entry[3], entry[4]) end
  end
  local result = {"ok"}
  for _, token in ipairs(found[4]) do result[#result + 1] = token end
  return result
end)

ops.commit = function()
  if state(root) ~= "pending" then return EXPIRED end
  for _, t in pairs(plan.tables) do
    if state(t) then
      enter(t, "committed")
      touch(t)  -- what its readers see changes now
    end
  end
  return {"ok"}
end

-- One step of a walk of a batch record with its cursor in ``:at``: true once walked.
local function walk(t, part, budget, visit)
  local at, key = batch_key(t, batch, "at"), batch_key(t, batch, part)
  local cursor = redis.call("HGET", at, part) or "0"
  if cursor == "done" then return true end
  local scan = part == "old" and "HSCAN" or "SSCAN"
  local page = redis.call(scan, key, cursor, "COUNT", budget)
  visit(page[2])
  redis.call("HSET", at, part, page[1] == "0" and "done" or page[1])
  return page[1] == "0"
end

ops.finish = function()
  local budget = tonumber(ARGV[FIRST])
  local finished = true
  for _, t in pairs(plan.tables) do
    local current = state(t)
    if current == "pending" then  -- not committed: aborted, never to be staged on again
      enter(t, "aborted")
      current = "aborted"
    end
    if current then
      local walked
      if current == "committed" then
        walked = walk(t, "gone", budget, function(tokens) remove(t, tokens) end)
          and walk(t, "old", budget, function(page)
            for i = 1, #page, 2 do settle(t, page[i], page[i + 1]) end
          end)
      else
        walked = walk(t, "new", budget, function(tokens) remove(t, tokens) end)
          and walk(t, "old", budget, function(page)
            for i = 1, #page, 2 do restore(t, page[i], page[i + 1]) end
          end)
      end
      if walked then
        redis.call("UNLINK", batch_key(t, batch, "new"), batch_key(t, batch, "old"),
          batch_key(t, batch, "gone"), batch_key(t, batch, "at"))
        redis.call("HDEL", t.gate, batch)
      else
        finished = false
      end
    end
  end
  return {"ok", finished and "done" or "more"}
end

ops.expired = function()
  local now, found = now_ms(), {}
  for _, t in pairs(plan.tables) do
    local entries = redis.call("HGETALL", t.gate)
    for i = 1, #entries, 2 do
      if tonumber(string.match(entries[i + 1], "(%d+)$")) < now then found[entries[i]] = true end
    end
  end
  local result = {"ok"}
  for id in pairs(found) do result[#result + 1] = id end
  return result
end

ops.view = function()
  local sides, hidden, old, expired = {}, {}, {}, {}
  local now = now_ms()
  local entries = redis.call("HGETALL", root.gate)
  for i = 1, #entries, 2 do
    local id, current = entries[i], string.match(entries[i + 1], "^(%a+)")
    if tonumber(string.match(entries[i + 1], "(%d+)$")) < now then expired[#expired + 1] = id end
    local after = current == "committed"
    sides[#sides + 1] = id
    sides[#sides + 1] = after and "after" or "before"
    for _, token in ipairs(redis.call("SMEMBERS", batch_key(root, id, after and "gone" or "new"))) do
      hidden[#hidden + 1] = token
    end
    if not after then
      for _, value in ipairs(redis.call("HGETALL", batch_key(root, id, "old"))) do
        old[#old + 1] = value
      end
    end
  end
  return {"ok", sides, hidden, old, expired}
end
