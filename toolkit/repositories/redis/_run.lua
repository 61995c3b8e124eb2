-- The operation ARGV[1] names, run: the last part of each script toolkit/repositories/redis/_script.py
-- joins, after the parts that define the operations.

local run = ops[op]
if not run then return redis.error_reply("unknown operation " .. tostring(op)) end
return run()
