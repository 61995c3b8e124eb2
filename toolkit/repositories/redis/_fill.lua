-- The fields a model adds, filled in with their defaults in the documents stored before
-- (toolkit/repositories/redis/_indexes.py), a page of documents at a time, by the process that
-- holds the table's ``migrating`` lock.
--
-- ARGV[1]  "fill" or "release"
-- ARGV[2]  the lock's key; ARGV[3] the holder's token
-- fill:
-- ARGV[4]  how long the lock is held from now (ms)
-- ARGV[5]  the table's gate; ARGV[6] its ``changes`` counter; ARGV[7] its ``wide`` set
-- ARGV[8]  the JSON array of the fields among them whose defaults the index holds inexactly
-- ARGV[9]  F, the number of fields; ARGV[10 .. 9 + F] their names
-- then, for each document: its key and the JSON of each field's value, in that order ("": none,
-- the field stays missing, which is NULL)
--
-- Returns "ok", "lost" (the lock is not the caller's: nothing is written) or "gated" (a staged
-- batch is in progress on the table, which could put back a document as it was before: nothing
-- is written; the caller finishes the batches whose lease ran out, or waits, and tries again).

if redis.call("GET", ARGV[2]) ~= ARGV[3] then return "lost" end
if ARGV[1] == "release" then
  redis.call("DEL", ARGV[2])
  return "ok"
end
redis.call("PEXPIRE", ARGV[2], ARGV[4])  -- held on, also while a staged batch keeps it waiting
if redis.call("EXISTS", ARGV[5]) == 1 then return "gated" end
for _, field in ipairs(cjson.decode(ARGV[8])) do redis.call("SADD", ARGV[7], field) end
local count = tonumber(ARGV[9])
local paths = {}
for j = 1, count do paths[j] = '$["' .. ARGV[9 + j] .. '"]' end
local written = false
for i = 10 + count, #ARGV, count + 1 do
  local key = ARGV[i]
  if redis.call("EXISTS", key) == 1 then  -- gone since it was listed: nothing to fill
    for j = 1, count do
      -- NX: a value the document holds already (given by another process's page) stays
      if ARGV[i + j] ~= "" and redis.call("JSON.SET", key, paths[j], ARGV[i + j], "NX") then
        written = true
      end
    end
  end
end
if written then redis.call("INCR", ARGV[6]) end  -- units of work that read the table fail
return "ok"
