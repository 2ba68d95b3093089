/**
 * Lua scripts that change the projection atomically. Each checks the indexer's lease (fencing) and the checkpoint
 * (so a block is applied exactly once) before writing. Every key shares one hash tag, so a Redis Cluster runs them
 * on one node.
 */

/**
 * Applies a batch of operations and moves the checkpoint.
 * KEYS: 1 meta, 2 lease, 3 block hashes, 4 event stream, then every key the operations touch.
 * ARGV: 1 lease value, 2 expected checkpoint block ("" when none), 3 new block, 4 new block hash,
 *       5 operations JSON [[op, key, [arg, ...]], ...] (op: hset, rpush, zadd, zrem, sadd, srem; the arguments
 *       of one command on that key), 6 undo key ("" to record no undo), 7 block hashes JSON [n, h, ...],
 *       8 announcements JSON [string...], 9 announcement-log key ("" for none), 10 keys to delete JSON,
 *       11 block-hash fields to delete JSON.
 * Stream entries (ids from the server's clock, so retention trims by time) hold one field `e`: a stage letter and
 * the announcement — `p` announced in a block that can still be undone, `x` committed already final (the event and
 * its finalization in one entry), `f` finalized (its block passed the confirmation depth: written from the block's
 * announcement log, `bev:<b>`, before that log is dropped), `r` retracted (ROLLBACK_SCRIPT). One field name for all
 * keeps the stream's listpacks compact; relayer/src/events/stream.ts reads them.
 * Returns "OK", "LEASE" (not the leader any more) or "STALE" (checkpoint moved: already applied).
 */
export const COMMIT_SCRIPT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'LEASE' end
local cur = redis.call('HGET', KEYS[1], 'block') or ''
if cur ~= ARGV[2] then return 'STALE' end
local record = ARGV[6] ~= ''
local undo = {}
-- one command per slice of at most 1,000 arguments (Lua's unpack has a stack limit)
local function call(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local ops = cjson.decode(ARGV[5])
for i = 1, #ops do
  local op = ops[i]
  local t, key, args = op[1], op[2], op[3]
  if record then
    if t == 'hset' then
      for j = 1, #args, 2 do
        local prior = redis.call('HGET', key, args[j])
        if prior then undo[#undo + 1] = {'hset', key, args[j], prior}
        else undo[#undo + 1] = {'hdel', key, args[j]} end
      end
    elseif t == 'rpush' then
      for j = 1, #args do undo[#undo + 1] = {'rpop', key} end
    elseif t == 'zadd' or t == 'zrem' then
      local first, step = 1, 1
      if t == 'zadd' then first, step = 2, 2 end
      for j = first, #args, step do
        local prior = redis.call('ZSCORE', key, args[j])
        if prior then undo[#undo + 1] = {'zadd', key, prior, args[j]}
        elseif t == 'zadd' then undo[#undo + 1] = {'zrem', key, args[j]} end
      end
    elseif t == 'sadd' or t == 'srem' then
      local back = t == 'sadd' and 'srem' or 'sadd'
      local present = t == 'srem' and 1 or 0
      for j = 1, #args do
        if redis.call('SISMEMBER', key, args[j]) == present then undo[#undo + 1] = {back, key, args[j]} end
      end
    end
  end
  if t == 'hset' or t == 'rpush' or t == 'zadd' or t == 'zrem' or t == 'sadd' or t == 'srem' then
    call(string.upper(t), key, args)
  else
    return redis.error_reply('unknown op ' .. tostring(t))
  end
end
if record then redis.call('SET', ARGV[6], cjson.encode(undo)) end
local hashes = cjson.decode(ARGV[7])
for i = 1, #hashes, 2 do redis.call('HSET', KEYS[3], hashes[i], hashes[i + 1]) end
local dels = cjson.decode(ARGV[10])
local appended = 0
for i = 1, #dels do
  if string.find(dels[i], 'bev:%d+$') then
    local bev = redis.call('GET', dels[i])
    if bev then
      local announced = cjson.decode(bev)
      for j = 1, #announced do redis.call('XADD', KEYS[4], '*', 'e', 'f' .. announced[j]) end
      appended = appended + #announced
    end
  end
end
local announcements = cjson.decode(ARGV[8])
local stage = ARGV[9] ~= '' and 'p' or 'x'
for i = 1, #announcements do redis.call('XADD', KEYS[4], '*', 'e', stage .. announcements[i]) end
appended = appended + #announcements
if appended > 0 then redis.call('HINCRBY', KEYS[1], 'seq', appended) end
if ARGV[9] ~= '' and #announcements > 0 then redis.call('SET', ARGV[9], ARGV[8]) end
for i = 1, #dels do redis.call('DEL', dels[i]) end
local hdels = cjson.decode(ARGV[11])
for i = 1, #hdels do redis.call('HDEL', KEYS[3], hdels[i]) end
redis.call('HSET', KEYS[1], 'block', ARGV[3], 'hash', ARGV[4])
return 'OK'
`;

/**
 * Rolls the projection back to block `to` by applying the undo logs of the blocks above it, newest first, and
 * appends a retraction (stream entry `r<announcement>`, newest event first) for every announced event of those blocks.
 * KEYS: 1 meta, 2 lease, 3 block hashes, 4 event stream.
 * ARGV: 1 lease value, 2 current checkpoint block, 3 target block, 4 target block hash, 5 key prefix (the undo
 *       log of block b is <prefix>undo:<b>, its announcements <prefix>bev:<b>).
 * Returns the number of retracted events, "LEASE", "STALE", or "DEEP" when an undo log is missing (the reorg
 * reaches below what was kept: past the confirmation depth).
 */
export const ROLLBACK_SCRIPT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'LEASE' end
local cur = redis.call('HGET', KEYS[1], 'block') or ''
if cur ~= ARGV[2] then return 'STALE' end
local from, to = tonumber(ARGV[2]), tonumber(ARGV[3])
for b = from, to + 1, -1 do
  if redis.call('EXISTS', ARGV[5] .. 'undo:' .. b) == 0 then return 'DEEP' end
end
local retracted = 0
for b = from, to + 1, -1 do
  local undoKey = ARGV[5] .. 'undo:' .. b
  local undo = cjson.decode(redis.call('GET', undoKey))
  for i = #undo, 1, -1 do
    local u = undo[i]
    local t, key = u[1], u[2]
    if t == 'hset' then redis.call('HSET', key, u[3], u[4])
    elseif t == 'hdel' then redis.call('HDEL', key, u[3])
    elseif t == 'rpop' then redis.call('RPOP', key)
    elseif t == 'zadd' then redis.call('ZADD', key, u[3], u[4])
    elseif t == 'zrem' then redis.call('ZREM', key, u[3])
    elseif t == 'sadd' then redis.call('SADD', key, u[3])
    elseif t == 'srem' then redis.call('SREM', key, u[3]) end
  end
  redis.call('DEL', undoKey)
  local bevKey = ARGV[5] .. 'bev:' .. b
  local bev = redis.call('GET', bevKey)
  if bev then
    local announced = cjson.decode(bev)
    for i = #announced, 1, -1 do
      redis.call('XADD', KEYS[4], '*', 'e', 'r' .. announced[i])
      retracted = retracted + 1
    end
    redis.call('HINCRBY', KEYS[1], 'seq', #announced)
    redis.call('DEL', bevKey)
  end
  redis.call('HDEL', KEYS[3], tostring(b))
end
redis.call('HSET', KEYS[1], 'block', ARGV[3], 'hash', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'reorgs', 1)
return retracted
`;

/**
 * Takes or renews the indexer lease. KEYS: 1 lease, 2 fencing counter. ARGV: 1 holder id, 2 ttl ms, 3 current
 * lease value ("" to take a free lease). Returns the lease value ("<token>:<holder>") or false.
 * A renewal (ARGV[3] set) only ever extends that very value: once it expired (a leader paused past the TTL), the
 * renewal fails even if nobody took over meanwhile. It must not take a new token in passing: the caller, expecting
 * its old value back, would drop it, leaving a lease nobody holds that locks every replica out for a whole TTL.
 * The old leader takes a fresh lease (a new token) through the ordinary election instead.
 */
export const LEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  if current == ARGV[3] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return current
  end
  return false
end
if ARGV[3] ~= '' then return false end
local token = redis.call('INCR', KEYS[2])
local value = token .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
`;

/** Releases the lease if it is still ours. KEYS: 1 lease. ARGV: 1 lease value. */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
