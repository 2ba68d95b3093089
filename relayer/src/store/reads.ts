/**
 * Lua scripts the read API runs: a page of deals in one round trip. A page of 100 deals read with one command per
 * deal (HGETALL and LRANGE, plus the index reads) was 200+ commands; even pipelined, each is parsed, queued and
 * answered on its own, and the client decoded 200 replies. One script reads the index, every deal's hash and
 * history, and the gateways of the disputed ones, and answers once.
 *
 * The script builds deal and gateway keys from the store's prefix (ARGV[1]) as the rollback script does: every key
 * of one escrow shares its hash tag, so a Redis Cluster still finds them on the node that runs the script.
 */

/**
 * A page of deals from one index, newest first.
 * KEYS: 1 the index (sorted set of deal ids).
 * ARGV: 1 key prefix, 2 page size, 3 highest score ("+inf" for the first page), 4 at that score, only ids below
 *       this one ("" for none), 5 most index entries to read (the scan budget when filtering), 6 status wanted
 *       ("" any), 7 "1" for disputes past their ruling deadline only, 8 now (unix seconds), 9 resolution window,
 *       10 "1" for ids only (no filters: each entry is [id, score], nothing else is read).
 * Returns the JSON text of [deals, gateways, next] where deals is [[id, score, [field, value, ...], [history...]], ...], gateways
 * [[address, [field, value, ...]], ...] (the gateways of the disputed deals among them) and next [id, score] of
 * the first entry not read (false when the index is exhausted). An empty list may come as {} (cjson cannot tell).
 */
export const READ_DEALS_SCRIPT = `
local idx, base = KEYS[1], ARGV[1]
local limit, maxScore, below = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local budget, status, overdue = tonumber(ARGV[5]), ARGV[6], ARGV[7] == '1'
local now, window = tonumber(ARGV[8]), tonumber(ARGV[9])
local idsOnly = ARGV[10] == '1'
local maxNum = tonumber(maxScore)
local deals, gateways, seenGw = {}, {}, {}
local scanned, offset, nextEntry = 0, 0, false
local function gatewayOf(g)
  local address = '0x' .. g
  local h = seenGw[address]
  if h == nil then
    h = redis.call('HGETALL', base .. 'gw:' .. address)
    seenGw[address] = h
    gateways[#gateways + 1] = {address, h}
  end
  return h
end
local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
  return nil
end
-- The escrow's rule (views.ts disputeRulerOf): the gateway rules while it holds the dispute, is active or exiting
-- and not suspended, and its window is open; past that the dispute is overdue (an arbiter may rule).
local function isOverdue(h)
  if field(h, 'gh') ~= '1' then return true end
  local gw = gatewayOf(field(h, 'g'))
  local st = field(gw, 'status')
  if field(gw, 'suspended') == '1' or (st ~= 'active' and st ~= 'exiting') then return true end
  return now > tonumber(field(h, 'da') or '0') + window
end
while not nextEntry do
  local want = math.min(limit - #deals, budget - scanned) + 1
  local batch = redis.call('ZREVRANGEBYSCORE', idx, maxScore, '-inf', 'WITHSCORES', 'LIMIT', offset, want)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    local id, score = batch[i], batch[i + 1]
    if not (below ~= '' and tonumber(score) == maxNum and id >= below) then
      if #deals >= limit or scanned >= budget then
        nextEntry = {id, score}
        break
      end
      scanned = scanned + 1
      local h = {}
      if idsOnly then deals[#deals + 1] = {id, score}
      else h = redis.call('HGETALL', base .. 'deal:' .. id) end
      -- A deal can vanish in a reorg between index updates; a status filter over another index checks it here.
      if #h > 0 and (status == '' or field(h, 's') == status) and (not overdue or isOverdue(h)) then
        deals[#deals + 1] = {id, score, h, redis.call('LRANGE', base .. 'hist:' .. id, 0, -1)}
        if field(h, 's') == 'disputed' then gatewayOf(field(h, 'g')) end
      end
    end
  end
end
-- One JSON string: a client decodes it natively, where thousands of nested bulk replies cost it milliseconds.
return cjson.encode({deals, gateways, nextEntry})
`;

/**
 * Given deals (those of a page the API does not hold in memory): each one's hash and history, and the gateways of
 * the disputed ones, as one JSON string [deals, gateways] shaped as READ_DEALS_SCRIPT's (deals gone are left out).
 * ARGV: 1 key prefix, then the deal ids.
 */
export const READ_DEALS_BY_ID_SCRIPT = `
local base = ARGV[1]
local deals, gateways, seenGw = {}, {}, {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HGETALL', base .. 'deal:' .. id)
  if #h > 0 then
    deals[#deals + 1] = {id, '0', h, redis.call('LRANGE', base .. 'hist:' .. id, 0, -1)}
    local status, g
    for j = 1, #h, 2 do
      if h[j] == 's' then status = h[j + 1] elseif h[j] == 'g' then g = h[j + 1] end
    end
    if status == 'disputed' and not seenGw[g] then
      seenGw[g] = true
      gateways[#gateways + 1] = {'0x' .. g, redis.call('HGETALL', base .. 'gw:0x' .. g)}
    end
  end
end
return cjson.encode({deals, gateways})
`;
