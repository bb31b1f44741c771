//! The Lua scripts that make each multi-step operation atomic on the server.

use std::sync::LazyLock;

use redis::Script;

/// Stores a record. `KEYS[1]`: the record hash, `KEYS[2]`: the index of listed keys.
/// `ARGV[1]`: the bytes; `ARGV[2]`: the generation of the lease the store is made under (its
/// fence), or `""` for an unfenced store; `ARGV[3]`: the caller's key for the index, or `""`
/// (listing is off).
///
/// A fenced store is refused only when the record is at a higher generation than its fence
/// (another holder stored since the lease began), and then replies `{0, found generation}`.
/// A lower generation means the record went backwards (a failover to a replica that lost the
/// last writes, a removal): the store lands at the fence's generation plus one, so that the
/// generation moves past every one this holder knew, and replies `{2, new generation}`.
/// Otherwise it lands at the found generation plus one and replies `{1, new generation}`.
pub(crate) static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local found = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
local fence = tonumber(ARGV[2])
if fence and found > fence then
  return {0, found}
end
local reply = 1
local generation = found + 1
if fence and found < fence then
  reply = 2
  generation = fence + 1
end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'gen', generation)
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], 0, ARGV[3])
end
return {reply, generation}
",
    )
});

/// Removes a record. `KEYS[1]`: the record hash, `KEYS[2]`: the index of listed keys.
/// `ARGV[1]`: the caller's key for the index, or `""` (listing is off).
pub(crate) static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 0
",
    )
});

/// Takes the lease if it is free. `KEYS[1]`: the lease, `KEYS[2]`: the record hash.
/// `ARGV[1]`: the owner value, `ARGV[2]`: the time to live in ms. Replies the record's
/// generation (0 when none) when taken, -1 when another holder has it.
pub(crate) static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return tonumber(redis.call('HGET', KEYS[2], 'gen') or '0')
end
return -1
",
    )
});

/// Extends the lease if this owner still holds it. `KEYS[1]`: the lease. `ARGV[1]`: the
/// owner, `ARGV[2]`: the time to live in ms. Replies 1 when extended, 0 when lost.
pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// Releases the lease if this owner holds it (compare and delete) and announces it.
/// `KEYS[1]`: the lease, `KEYS[2]`: the channel. `ARGV[1]`: the owner. Replies 1 when
/// released, 0 when it had lapsed already.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], '1')
  return 1
end
return 0
",
    )
});
