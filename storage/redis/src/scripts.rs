//! The Lua scripts that make each multi-step operation atomic on the server.

use std::sync::LazyLock;

use redis::Script;

/// Stores a record. `KEYS[1]`: the record hash. `ARGV[1]`: the bytes; `ARGV[2]`: the
/// generation the store expects, or `""` for an unfenced store. Replies `{1, new generation}`,
/// or `{0, found generation}` when fenced off.
pub(crate) static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local found = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= found then
  return {0, found}
end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'gen', found + 1)
return {1, found + 1}
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
