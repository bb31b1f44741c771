//! The Redis lease: take (with pub/sub wake-ups and polling), renew in the background, release
//! by compare-and-delete, on drop too.

use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use credkit_core::{Fence, Lease, LeaseHandle, LeaseOptions, Result};
use futures::StreamExt;
use futures::future::{Either, select};
use redis::aio::PubSub;

use crate::error;
use crate::keys::Names;
use crate::scripts;
use crate::store::RedisStorage;

/// Takes the lease on `key`, waiting at most `options.wait()` on its clock.
pub(crate) async fn take(
    storage: &RedisStorage,
    key: &str,
    options: &LeaseOptions,
) -> Result<Lease> {
    let names = storage.names(key);
    let owner = random_owner()?;
    let clock = options.clock();
    let deadline = clock.now() + options.wait();
    let mut subscription: Option<PubSub> = None;
    let mut subscribed = false;
    loop {
        if let Some(generation) = try_take(storage, &names, &owner).await? {
            return Ok(held(storage, names, owner, generation));
        }
        let left = Duration::try_from(deadline - clock.now()).unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return Err(error::lease_timeout(options.wait()));
        }
        if !subscribed {
            // Once per wait: a release announced from now on wakes us; the attempt that
            // follows covers a release between the last attempt and the subscription.
            subscribed = true;
            let subscribing = Box::pin(subscribe(storage, &names));
            subscription = match select(subscribing, clock.timeout(left)).await {
                Either::Left((subscription, _)) => subscription,
                Either::Right(_) => None,
            };
            continue;
        }
        let nap = left.min(storage.inner.poll_interval);
        let gone = if let Some(pubsub) = subscription.as_mut() {
            let mut messages = pubsub.on_message();
            let message = messages.next();
            matches!(
                select(message, clock.sleep(nap)).await,
                Either::Left((None, _))
            )
        } else {
            clock.sleep(nap).await;
            false
        };
        if gone {
            // The subscription's connection is gone: poll from now on.
            subscription = None;
        }
    }
}

/// A subscription to `names`' release announcements, or `None` (polling only) when it
/// cannot be had.
async fn subscribe(storage: &RedisStorage, names: &Names) -> Option<PubSub> {
    let mut pubsub = storage.inner.client.get_async_pubsub().await.ok()?;
    pubsub.subscribe(&names.released).await.ok()?;
    Some(pubsub)
}

/// One attempt: the record's generation when the lease was free and is now ours.
async fn try_take(storage: &RedisStorage, names: &Names, owner: &str) -> Result<Option<i64>> {
    let mut connection = storage.connection().await?;
    // Armed while the attempt is in flight: if it is cancelled after the server took the
    // lease for us, the lease is given back rather than held until its time to live.
    let mut guard = Unwind {
        storage: storage.same_holder(),
        names: names.clone(),
        owner: owner.to_owned(),
        armed: true,
    };
    let reply: i64 = scripts::TAKE
        .key(&names.lease)
        .key(&names.record)
        .arg(owner)
        .arg(millis(storage.inner.lease_ttl))
        .invoke_async(&mut connection)
        .await
        .map_err(|err| error::command("taking the refresh lease", err))?;
    guard.armed = false;
    Ok((reply >= 0).then_some(reply))
}

/// The lease is ours: fence stores by `generation`, renew it in the background.
fn held(storage: &RedisStorage, names: Names, owner: String, generation: i64) -> Lease {
    let fence = storage
        .fences
        .taken(&names.record, u64::try_from(generation).unwrap_or(0));
    let renewal = tokio::runtime::Handle::try_current().ok().map(|runtime| {
        runtime.spawn(renew(
            storage.same_holder(),
            names.clone(),
            owner.clone(),
            fence.clone(),
        ))
    });
    Lease::new(RedisLease {
        storage: storage.same_holder(),
        names,
        owner,
        fence,
        renewal,
        released: false,
    })
}

/// Extends the lease every third of its time to live until it is released (the task is then
/// aborted) or lost. Waits on real time: the time to live runs on the server's clock.
async fn renew(storage: RedisStorage, names: Names, owner: String, fence: Fence) {
    let ttl = storage.inner.lease_ttl;
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(ttl / 3).await;
        let extended: Result<i64> = async {
            let mut connection = storage.connection().await?;
            scripts::RENEW
                .key(&names.lease)
                .arg(&owner)
                .arg(millis(ttl))
                .invoke_async(&mut connection)
                .await
                .map_err(|err| error::command("renewing the refresh lease", err))
        }
        .await;
        match extended {
            Ok(1) => last = Instant::now(),
            Ok(_) => break,
            Err(err) => {
                tracing::warn!(error = %err, "the refresh lease could not be renewed");
                if last.elapsed() >= ttl {
                    break;
                }
            }
        }
    }
    fence.lapsed();
    tracing::warn!("the refresh lease lapsed while held; stores under it may be fenced off");
}

/// Gives the lease back if this owner holds it, announcing the release.
async fn release(storage: &RedisStorage, names: &Names, owner: &str) -> Result<()> {
    let mut connection = storage.connection().await?;
    scripts::RELEASE
        .key(&names.lease)
        .key(&names.released)
        .arg(owner)
        .invoke_async::<i64>(&mut connection)
        .await
        .map(drop)
        .map_err(|err| error::command("releasing the refresh lease", err))
}

/// Releases in the background (a drop cannot wait); without a runtime, the time to live frees
/// the lease.
fn release_later(storage: &RedisStorage, names: &Names, owner: &str) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let (storage, names, owner) = (storage.same_holder(), names.clone(), owner.to_owned());
        runtime.spawn(async move {
            if let Err(err) = release(&storage, &names, &owner).await {
                tracing::warn!(error = %err, "a dropped refresh lease could not be released; it lapses by its time to live");
            }
        });
    }
}

fn random_owner() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(error::random)?;
    let mut owner = String::with_capacity(32);
    for byte in bytes {
        let _ = write!(owner, "{byte:02x}");
    }
    Ok(owner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// See [`try_take`].
struct Unwind {
    storage: RedisStorage,
    names: Names,
    owner: String,
    armed: bool,
}

impl Drop for Unwind {
    fn drop(&mut self) {
        if self.armed {
            release_later(&self.storage, &self.names, &self.owner);
        }
    }
}

/// A held Redis lease.
struct RedisLease {
    storage: RedisStorage,
    names: Names,
    owner: String,
    fence: Fence,
    renewal: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

#[async_trait]
impl LeaseHandle for RedisLease {
    async fn release(mut self: Box<Self>) -> Result<()> {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        self.released = true;
        self.storage.fences.forget(&self.names.record, &self.fence);
        release(&self.storage, &self.names, &self.owner).await
    }

    fn is_held(&self) -> bool {
        self.fence.is_held()
    }
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if !self.released {
            self.storage.fences.forget(&self.names.record, &self.fence);
            release_later(&self.storage, &self.names, &self.owner);
        }
    }
}

impl fmt::Debug for RedisLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLease")
            .field("lease", &self.names.lease)
            .field("held", &self.is_held())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_owner_is_a_fresh_128_bit_random_hex_string() {
        let first = random_owner().unwrap();
        let second = random_owner().unwrap();
        assert_ne!(first, second);
        for owner in [first, second] {
            assert_eq!(owner.len(), 32);
            assert!(owner.bytes().all(|b| b.is_ascii_hexdigit()), "{owner}");
        }
    }
}
