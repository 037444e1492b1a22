"""The Redis functions of vexe: the only code Redis runs for a validator, loaded by the operator.

A validator's Redis user may call functions (FCALL) and run no code of its own (no EVAL, no
SCRIPT LOAD): a script of its own could loop forever, and Redis answers BUSY to everyone
while it runs (one that wrote first cannot even be killed). The functions are loaded by the
operator's own connection (``load``): ``vexe validator acl create``/``update``, and the ingest
worker when it starts and whenever it finds them missing (a Redis that restarted empty).

Redis checks every command a function runs against the rights of the user who calls it, so
a function grants nothing: what ``vexe_push`` does for a validator, the validator may also do
by hand. That is why a validator writes only keys of its own (shared.redis_keys): its inbox
(a list), its high-water marks, its heartbeat, and the set that says which inboxes have
trips. The trips stream, which every validator's trips share, is written by ``vexe_move``
alone, called by the ingest as the operator: it moves inboxes into the stream, Redis choosing
each entry's id, and names in each entry the validator whose inbox it came from.

- ``vexe_push``  KEYS inbox, marks, ready; ARGV journal, after, then (seq, trip) pairs.
  The exactly-once push of validator.sync: only trips above the journal's high-water mark go
  to the inbox, and the mark is raised, atomically. A batch of more than MAX_BATCH trips, or
  one holding a trip over MAX_TRIP bytes, is refused whole.
- ``vexe_move``  KEYS stream, ready; ARGV most entries moved in this call.
  Takes inboxes off the ready set and moves their entries to the stream, oldest first, as
  ``trip`` and ``from`` (the validator id of the inbox). An entry over MAX_TRIP bytes (one a
  validator pushed by hand) goes as ``refused`` and the first KEEP_RAW bytes of it, ``raw``:
  the ingest keeps it among the rejects, and the stream never holds more than that of it.
- ``vexe_beat``  KEYS beats; ARGV the beat's JSON, its time to live in seconds.
  Adds the beat to the validator's own beat stream, as its one entry, with an id Redis
  chooses: the beat's time is that id (backoffice.heartbeats).

- ``vexe_beats``  KEYS heartbeats (of one slot); read only (FCALL_RO), for the console.
  Each key's last entry as [id, beat JSON], nil for none, or [nil, error] (a key of another
  type): one command for many beats, as MGET was for beats that were strings.

A function that writes is refused whole when Redis is out of memory (it has no
``allow-oom`` flag), before it starts: a batch lands whole or not at all.
"""

from __future__ import annotations

import redis
from redis.exceptions import RedisClusterException

from shared import redis_client

LIBRARY = "vexe"
MAX_TRIP = 2048  # bytes: a trip's JSON is about 350, at most about 1,000 with every text full
MAX_BATCH = 500  # trips in one call of vexe_push (validator.sync.BATCH_SIZE)
MAX_BEAT = 4096  # bytes of one heartbeat's JSON (about 700)
KEEP_RAW = 256  # bytes of an entry over MAX_TRIP kept in the stream, for the rejects
MOVE_PER_INBOX = 2000  # entries moved from one inbox before the next inbox's turn

# Lua, as Redis 7 loads it. The bounds above are written into it, so one constant is the
# bound on both sides.
SOURCE = f"""#!lua name={LIBRARY}
local MAX_TRIP, MAX_BATCH, MAX_BEAT = {MAX_TRIP}, {MAX_BATCH}, {MAX_BEAT}
local KEEP_RAW, MOVE_PER_INBOX = {KEEP_RAW}, {MOVE_PER_INBOX}

local function push(keys, args)
  local inbox, marks, ready = keys[1], keys[2], keys[3]
  local n = (#args - 2) / 2
  if #keys ~= 3 or n < 0 or n % 1 ~= 0 then
    return redis.error_reply('ERR vexe_push takes 3 keys, a journal, after, then seq and trip pairs')
  end
  if n > MAX_BATCH then
    return redis.error_reply('ERR vexe_push: a batch holds at most ' .. MAX_BATCH .. ' trips')
  end
  for i = 4, #args, 2 do
    if #args[i] > MAX_TRIP then
      return redis.error_reply('ERR vexe_push: a trip is at most ' .. MAX_TRIP .. ' bytes')
    end
  end
  -- args[2]: the last seq of the batch sent just before this one in the same pipeline, 0 if
  -- none: if that batch did not land, adding this one would skip it for good.
  local hwm = tonumber(redis.call('HGET', marks, args[1]) or '0')
  if hwm < tonumber(args[2]) then
    return {{0, 0, hwm}}
  end
  local trips, seen, top, top_text = {{}}, 0, hwm, nil
  for i = 3, #args, 2 do
    local seq = tonumber(args[i])
    if seq > top then
      trips[#trips + 1] = args[i + 1]
      top, top_text = seq, args[i]
    else
      seen = seen + 1
    end
  end
  if top_text then
    redis.call('RPUSH', inbox, unpack(trips))
    redis.call('HSET', marks, args[1], top_text)
    redis.call('SADD', ready, inbox)
  end
  return {{#trips, seen, top}}
end

local function move(keys, args)
  local stream, ready = keys[1], keys[2]
  local prefix = string.sub(stream, 1, -7) .. 'in:'  -- "vexe:{{trips}}:stream" -> ...:in:
  local budget = tonumber(args[1])
  local moved, refused = 0, 0
  while budget > 0 do
    local inbox = redis.call('SPOP', ready)
    if not inbox then break end
    local validator = string.sub(inbox, #prefix + 1)
    -- Any name a validator put in the set is only read as an inbox of this stream's shard.
    if string.sub(inbox, 1, #prefix) == prefix and validator ~= '' then
      local count = math.min(budget, MOVE_PER_INBOX)
      local entries = redis.pcall('LPOP', inbox, count)
      if type(entries) == 'table' and not entries.err then
        for _, entry in ipairs(entries) do
          if #entry <= MAX_TRIP then
            redis.call('XADD', stream, '*', 'trip', entry, 'from', validator)
            moved = moved + 1
          else
            redis.call('XADD', stream, '*', 'from', validator, 'refused',
                       'an entry of ' .. #entry .. ' bytes, over the ' .. MAX_TRIP ..
                       ' a trip may have', 'raw', string.sub(entry, 1, KEEP_RAW))
            refused = refused + 1
          end
        end
        budget = budget - #entries
        if #entries == count and redis.call('LLEN', inbox) > 0 then
          redis.call('SADD', ready, inbox)  -- its next turn
        end
      end
    end
  end
  return {{moved, refused, redis.call('SCARD', ready)}}
end

local function beat(keys, args)
  if #keys ~= 1 or #args ~= 2 or #args[1] > MAX_BEAT then
    return redis.error_reply('ERR vexe_beat takes 1 key, a beat of at most ' .. MAX_BEAT ..
                             ' bytes and a time to live')
  end
  local id = redis.call('XADD', keys[1], 'MAXLEN', '1', '*', 'beat', args[1])
  redis.call('EXPIRE', keys[1], args[2])
  return id
end

local function beats(keys, args)
  local out = {{}}
  for i, key in ipairs(keys) do
    local entries = redis.pcall('XREVRANGE', key, '+', '-', 'COUNT', 1)
    if entries.err then
      out[i] = {{false, entries.err}}
    elseif #entries == 0 then
      out[i] = false
    else
      local id, fields, value = entries[1][1], entries[1][2], ''
      for f = 1, #fields - 1, 2 do
        if fields[f] == 'beat' then value = fields[f + 1] end
      end
      out[i] = {{id, value}}
    end
  end
  return out
end

redis.register_function('vexe_push', push)
redis.register_function('vexe_move', move)
redis.register_function('vexe_beat', beat)
redis.register_function{{function_name='vexe_beats', callback=beats, flags={{'no-writes'}}}}
"""


def load(client) -> int:
    """Load (or replace) the library on the one Redis, or on every master of a cluster (a
    replica gets it from its master); the number of servers it went to."""
    if not redis_client.is_cluster(client):
        client.function_load(SOURCE, replace=True)
        return 1
    masters = client.get_primaries()
    client.execute_command("FUNCTION", "LOAD", "REPLACE", SOURCE, target_nodes=masters)
    return len(masters)


def missing(exc: Exception) -> bool:
    """Whether ``exc`` is Redis saying the library is not loaded (a Redis started empty)."""
    return isinstance(exc, redis.ResponseError) and "function not found" in str(exc).lower()


def ensure(client, exc: Exception) -> bool:
    """After ``exc``: load the library if that was the problem and this client may; whether
    it was loaded (so the call is worth trying again)."""
    if not missing(exc):
        return False
    try:
        load(client)
    except (redis.RedisError, RedisClusterException):
        return False
    return True
