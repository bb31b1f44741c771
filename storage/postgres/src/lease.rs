//! The Postgres lease: a row with an owner and an expiry on the database's clock. Taken by one
//! statement (with `LISTEN`/`NOTIFY` wake-ups and polling while another holder has it),
//! renewed in the background, released by compare-and-delete, on drop too.

use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use credkit_core::{Fence, Lease, LeaseHandle, LeaseOptions, Result};
use futures::StreamExt;
use futures::future::{Either, select};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::error;
use crate::store::{PostgresStorage, generation_of};

/// Takes the lease on `key`, waiting at most `options.wait()` on its clock.
pub(crate) async fn take(
    storage: &PostgresStorage,
    key: &str,
    options: &LeaseOptions,
) -> Result<Lease> {
    let owner = random_owner()?;
    let payload = storage.inner.tables.payload(key);
    let clock = options.clock();
    let deadline = clock.now() + options.wait();
    let mut listener: Option<Listener> = None;
    let mut listening = false;
    loop {
        if let Some(generation) = attempt(storage, key, &owner).await? {
            return Ok(held(storage, key, owner, generation));
        }
        let left = Duration::try_from(deadline - clock.now()).unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return Err(error::lease_timeout(options.wait()));
        }
        if !listening {
            // Once per wait: a release announced from now on wakes us; the attempt that
            // follows covers a release between the last attempt and the `LISTEN`.
            listening = true;
            listener = match select(Box::pin(listen(storage)), clock.timeout(left)).await {
                Either::Left((listener, _)) => listener,
                Either::Right(_) => None,
            };
            continue;
        }
        let nap = left.min(storage.inner.poll_interval);
        let gone = if let Some(listening) = listener.as_mut() {
            let released = Box::pin(listening.released(&payload));
            matches!(
                select(released, clock.sleep(nap)).await,
                Either::Left((false, _))
            )
        } else {
            clock.sleep(nap).await;
            false
        };
        if gone {
            // The listening connection is gone: poll from now on.
            listener = None;
        }
    }
}

/// One attempt: the record's generation when the lease was free and is now ours.
///
/// A cancelled take never leaves the lease held, however late the server answers: the
/// statement runs in a task of its own, which hands the lease over, or gives it back when
/// nobody takes it (this future was dropped meanwhile) or when the attempt failed after the
/// statement may have landed (a timeout); and this future, dropped while it waits (the reply
/// held up), gives back at once whatever the statement takes. Each give-back is a
/// compare-and-delete on this take's own owner, which a later take never reuses.
async fn attempt(storage: &PostgresStorage, key: &str, owner: &str) -> Result<Option<u64>> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| error::no_runtime())?;
    let (sender, receiver) = oneshot::channel();
    let unwind = |storage: &PostgresStorage| Unwind {
        storage: storage.same_holder(),
        key: key.to_owned(),
        owner: owner.to_owned(),
        armed: true,
    };
    let mut waiting = unwind(storage);
    let mut taking = unwind(storage);
    runtime.spawn(async move {
        let outcome = try_take(&taking.storage, &taking.key, &taking.owner).await;
        if !matches!(outcome, Ok(None)) {
            // Taken (for the waiter, whose `keep` disarms it), or failed (given back now).
            let outcome = outcome.map(|taken| {
                taken.map(|generation| Taken {
                    generation,
                    unwind: taking,
                })
            });
            // Undelivered (or delivered to a receiver dropped unread), a taken lease drops
            // with the channel, and its `Unwind` gives it back.
            let _ = sender.send(outcome);
            return;
        }
        taking.disarm();
        let _ = sender.send(Ok(None));
    });
    let outcome = receiver.await;
    waiting.disarm();
    match outcome {
        Ok(outcome) => Ok(outcome?.map(Taken::keep)),
        Err(_) => Err(error::task_gone("taking the refresh lease")),
    }
}

/// The statement of one attempt. The lease row is inserted, or taken over when it expired, on
/// the database's clock (`clock_timestamp()`, read when the row is reached: a wait for another
/// statement's row lock neither shortens the new expiry nor counts a lapsed lease as held); the
/// record's generation is read in the same statement, from its snapshot, which is never newer
/// than the take: a store that lands after the take always exceeds the fence (a store that
/// landed while the statement waited for a row lock may too, and then this holder's store is
/// refused and it adopts that record: safe, if needless).
async fn try_take(storage: &PostgresStorage, key: &str, owner: &str) -> Result<Option<u64>> {
    const DOING: &str = "taking the refresh lease";
    let tables = &storage.inner.tables;
    let ttl = millis(storage.inner.lease_ttl);
    storage
        .run(DOING, async {
            let client = storage.client(DOING).await?;
            let failed = |err: tokio_postgres::Error| storage.failed(DOING, &err);
            let statement = client
                .prepare_cached(&format!(
                    "WITH taken AS (
                        INSERT INTO {leases} AS l (key, owner, expires_at)
                        VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond')
                        ON CONFLICT (key) DO UPDATE
                        SET owner = EXCLUDED.owner,
                            expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
                        WHERE l.expires_at < clock_timestamp()
                        RETURNING 1
                    )
                    SELECT EXISTS (SELECT 1 FROM taken),
                        COALESCE((SELECT generation FROM {records} WHERE key = $1), 0)",
                    leases = tables.leases,
                    records = tables.records,
                ))
                .await
                .map_err(failed)?;
            let row = client
                .query_one(&statement, &[&key, &owner, &ttl])
                .await
                .map_err(failed)?;
            let taken: bool = row.try_get(0).map_err(failed)?;
            let generation: i64 = row.try_get(1).map_err(failed)?;
            Ok(taken.then_some(generation_of(generation)))
        })
        .await
}

/// A lease an attempt took, until the waiter keeps it.
struct Taken {
    generation: u64,
    unwind: Unwind,
}

impl Taken {
    fn keep(mut self) -> u64 {
        self.unwind.disarm();
        self.generation
    }
}

/// Gives a taken lease back when dropped armed (see [`attempt`]).
struct Unwind {
    storage: PostgresStorage,
    key: String,
    owner: String,
    armed: bool,
}

impl Unwind {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Unwind {
    fn drop(&mut self) {
        if self.armed {
            release_later(&self.storage, &self.key, &self.owner);
        }
    }
}

/// A connection that `LISTEN`s on the release channel, for one wait.
struct Listener {
    /// Kept for the connection's sake: dropping it closes the connection.
    _client: tokio_postgres::Client,
    payloads: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    /// Until a release of the key with `payload` is announced (true), or the connection is
    /// gone (false).
    async fn released(&mut self, payload: &str) -> bool {
        while let Some(announced) = self.payloads.recv().await {
            if announced == payload {
                return true;
            }
        }
        false
    }
}

/// A connection listening on the release channel, or `None` (polling only) when it cannot be
/// had.
async fn listen(storage: &PostgresStorage) -> Option<Listener> {
    let (client, mut connection) = storage.inner.config.connect(NoTls).await.ok()?;
    let (sender, payloads) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(notification) = message
                && sender.send(notification.payload().to_owned()).is_err()
            {
                break;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN \"{}\"", storage.inner.tables.channel))
        .await
        .ok()?;
    Some(Listener {
        _client: client,
        payloads,
    })
}

/// The lease is ours: fence stores by `generation`, renew it in the background.
fn held(storage: &PostgresStorage, key: &str, owner: String, generation: u64) -> Lease {
    let fence = storage.fences.taken(key, generation);
    let renewal = tokio::runtime::Handle::try_current().ok().map(|runtime| {
        runtime.spawn(renew(
            storage.same_holder(),
            key.to_owned(),
            owner.clone(),
            fence.clone(),
        ))
    });
    Lease::new(PostgresLease {
        storage: storage.same_holder(),
        key: key.to_owned(),
        owner,
        fence,
        renewal,
        released: false,
    })
}

/// Extends the lease every third of its time to live until it is released (the task is then
/// aborted) or lost. Waits on real time: the time to live runs on the database's clock.
async fn renew(storage: PostgresStorage, key: String, owner: String, fence: Fence) {
    const DOING: &str = "renewing the refresh lease";
    let ttl = storage.inner.lease_ttl;
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(ttl / 3).await;
        let extended = storage
            .run(DOING, async {
                let client = storage.client(DOING).await?;
                let failed = |err: tokio_postgres::Error| storage.failed(DOING, &err);
                let statement = client
                    .prepare_cached(&format!(
                        "UPDATE {} SET expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
                         WHERE key = $1 AND owner = $2",
                        storage.inner.tables.leases
                    ))
                    .await
                    .map_err(failed)?;
                client
                    .execute(&statement, &[&key, &owner, &millis(ttl)])
                    .await
                    .map_err(failed)
            })
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

/// Gives the lease back if this owner holds it, announcing the release (delivered when the
/// statement commits).
async fn release(storage: &PostgresStorage, key: &str, owner: &str) -> Result<()> {
    const DOING: &str = "releasing the refresh lease";
    let tables = &storage.inner.tables;
    let payload = tables.payload(key);
    storage
        .run(DOING, async {
            let client = storage.client(DOING).await?;
            let failed = |err: tokio_postgres::Error| storage.failed(DOING, &err);
            let statement = client
                .prepare_cached(&format!(
                    "WITH gone AS (DELETE FROM {} WHERE key = $1 AND owner = $2 RETURNING 1)
                     SELECT pg_notify($3, $4) FROM gone",
                    tables.leases
                ))
                .await
                .map_err(failed)?;
            client
                .query(&statement, &[&key, &owner, &tables.channel, &payload])
                .await
                .map(drop)
                .map_err(failed)
        })
        .await
}

/// Releases in the background (a drop cannot wait); without a runtime, the time to live frees
/// the lease.
fn release_later(storage: &PostgresStorage, key: &str, owner: &str) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let (storage, key, owner) = (storage.same_holder(), key.to_owned(), owner.to_owned());
        runtime.spawn(async move {
            if let Err(err) = release(&storage, &key, &owner).await {
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

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A held Postgres lease.
struct PostgresLease {
    storage: PostgresStorage,
    key: String,
    owner: String,
    fence: Fence,
    renewal: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

#[async_trait]
impl LeaseHandle for PostgresLease {
    async fn release(mut self: Box<Self>) -> Result<()> {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        self.released = true;
        self.storage.fences.forget(&self.key, &self.fence);
        release(&self.storage, &self.key, &self.owner).await
    }

    fn is_held(&self) -> bool {
        self.fence.is_held()
    }
}

impl Drop for PostgresLease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if !self.released {
            self.storage.fences.forget(&self.key, &self.fence);
            release_later(&self.storage, &self.key, &self.owner);
        }
    }
}

impl fmt::Debug for PostgresLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key may name a user: only the table is shown.
        f.debug_struct("PostgresLease")
            .field("table", &self.storage.inner.tables.leases)
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
        assert_eq!(millis(Duration::from_secs(10)), 10_000);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }
}
