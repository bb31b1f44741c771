//! The lease while it is held and as it ends: renewed past its time to live, lost about one
//! time to live after the last renewal when Postgres is away, released before `release`
//! returns (or an error when it cannot be), given back when a take is cancelled and the
//! server takes the lease afterwards; its `Debug` never shows the owner or the key.
//!
//! The time to live runs on the database's clock, so the renewal tests wait on real time and
//! assert only lower bounds or generous upper bounds.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use credkit_core::{ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_postgres::PostgresStorage;
use support::PgServer;

const KEY: &str = "lease:user";
/// Short, and a multiple of 3 ms: renewed every 300 ms.
const TTL: Duration = Duration::from_millis(900);
/// How often a test looks again.
const POLL: Duration = Duration::from_millis(10);
/// A generous bound on anything that should happen within about one time to live.
const PATIENCE: Duration = Duration::from_secs(15);

fn wait() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(5), SystemClock)
}

fn now() -> LeaseOptions {
    LeaseOptions::new(Duration::ZERO, SystemClock)
}

/// The lease row of `key`: its owner and the milliseconds left before it expires.
async fn lease_row(
    client: &tokio_postgres::Client,
    storage: &PostgresStorage,
    key: &str,
) -> Option<(String, i64)> {
    let sql = format!(
        "SELECT owner, (extract(epoch FROM expires_at - now()) * 1000)::bigint FROM {} WHERE key = $1",
        storage.leases_table()
    );
    let row = client.query_opt(&sql, &[&key]).await.unwrap()?;
    Some((row.get(0), row.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_past_its_time_to_live() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::builder(server.url())
        .with_lease_ttl(TTL)
        .build()
        .unwrap();
    let other = storage.clone();
    let client = server.client().await;
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    let taken = Instant::now();
    let mut last = i64::MAX;
    let mut extended = 0;
    // Three times to live: without renewal the row would have expired after the first.
    while taken.elapsed() < TTL * 3 {
        let (_, left) = lease_row(&client, &storage, KEY).await.unwrap();
        assert!(
            left > 0,
            "the lease expired {:?} after the take ({left} ms left)",
            taken.elapsed()
        );
        if left > last {
            extended += 1;
        }
        last = left;
        assert!(lease.is_held());
        tokio::time::sleep(POLL).await;
    }
    assert!(
        extended >= 2,
        "the expiry moved on {extended} times in three times to live"
    );
    assert!(
        other.lease(KEY, &now()).await.is_err(),
        "another holder took a renewed lease"
    );
    lease.release().await.unwrap();
    assert!(lease_row(&client, &storage, KEY).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_row_is_taken_over() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    let client = server.client().await;
    storage.migrate().await.unwrap();
    // A holder that died: its row stays, expired, until another holder takes it over.
    client
        .execute(
            &format!(
                "INSERT INTO {} (key, owner, expires_at) VALUES ($1, 'dead', now() - interval '1 second')",
                storage.leases_table()
            ),
            &[&KEY],
        )
        .await
        .unwrap();
    let lease = storage.lease(KEY, &now()).await.unwrap().unwrap();
    let (owner, left) = lease_row(&client, &storage, KEY).await.unwrap();
    assert_ne!(owner, "dead");
    assert!(left > 0);
    // A row that has not expired is not.
    assert!(storage.clone().lease(KEY, &now()).await.is_err());
    lease.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_away_a_lease_is_held_until_about_one_time_to_live_after_its_last_renewal() {
    support::require_postgres!();
    let mut server = PgServer::start();
    let storage = PostgresStorage::builder(server.url())
        .with_lease_ttl(TTL)
        .with_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    storage.migrate().await.unwrap();
    let before = Instant::now();
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    // Before the first renewal (a third of the time to live): every renewal fails from now on.
    server.stop();
    let deadline = Instant::now() + PATIENCE;
    while lease.is_held() {
        assert!(
            Instant::now() < deadline,
            "the lease was still held {PATIENCE:?} after Postgres went away"
        );
        tokio::time::sleep(POLL).await;
    }
    // The row may still hold the lease for the time to live after the last renewal (here, the
    // take): the lease is not given up before then, whatever renewals failed in between.
    let lost = before.elapsed();
    assert!(
        lost >= TTL * 9 / 10,
        "the lease was lost {lost:?} after the take"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn release_frees_the_lease_before_it_returns() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    let client = server.client().await;
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    assert!(lease_row(&client, &storage, KEY).await.is_some());
    lease.release().await.unwrap();
    assert!(lease_row(&client, &storage, KEY).await.is_none());
    // So another handle takes it without waiting.
    let other = PostgresStorage::new(&server.url()).unwrap();
    other.lease(KEY, &now()).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_lease_is_released_in_the_background() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    let client = server.client().await;
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    drop(lease);
    let deadline = Instant::now() + PATIENCE;
    while lease_row(&client, &storage, KEY).await.is_some() {
        assert!(Instant::now() < deadline, "a dropped lease was kept");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_wakes_on_the_release_long_before_its_next_poll() {
    support::require_postgres!();
    let server = PgServer::start();
    // A waiter that would poll only once an hour: only the notification can wake it.
    let holder = PostgresStorage::new(&server.url()).unwrap();
    let waiter = PostgresStorage::builder(server.url())
        .with_lease_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let lease = holder.lease(KEY, &wait()).await.unwrap().unwrap();
    let waiting = tokio::spawn(async move {
        let long = LeaseOptions::new(Duration::from_secs(7200), SystemClock);
        waiter.lease(KEY, &long).await.map(|lease| lease.is_some())
    });
    // The waiter listens before its second attempt; wait until it is listening.
    let client = server.client().await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listening: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if listening > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the waiter never listened");
        tokio::time::sleep(POLL).await;
    }
    lease.release().await.unwrap();
    let got = tokio::time::timeout(PATIENCE, waiting).await;
    assert!(
        matches!(got, Ok(Ok(Ok(true)))),
        "the waiter did not get the lease on the release: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_makes_no_attempt_between_its_polls_until_the_release_wakes_it() {
    support::require_postgres!();
    let server = PgServer::start_with(&["-c", "shared_preload_libraries=pg_stat_statements"]);
    server.execute("CREATE EXTENSION pg_stat_statements").await;
    let holder = PostgresStorage::new(&server.url()).unwrap();
    let waiter = PostgresStorage::builder(server.url())
        .with_lease_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let lease = holder.lease(KEY, &wait()).await.unwrap().unwrap();
    // On a clock that never moves: only the release's notification can wake the waiter.
    let clock = credkit_testing::FakeClock::new();
    let waiting = tokio::spawn(async move {
        let long = LeaseOptions::new(Duration::from_secs(7200), clock);
        waiter.lease(KEY, &long).await.map(|lease| lease.is_some())
    });
    let client = server.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            let row = client.query_one(sql, &[]).await.unwrap();
            row.get::<_, i64>(0)
        }
    };
    let listening = || count("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'");
    let takes = || {
        count(
            "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements \
             WHERE query LIKE 'WITH taken AS%'",
        )
    };
    let deadline = Instant::now() + PATIENCE;
    while listening().await == 0 {
        assert!(Instant::now() < deadline, "the waiter never listened");
        tokio::time::sleep(POLL).await;
    }
    // The holder's take, and the waiter's before and after it listened: then nothing, however
    // long the lease is held.
    let attempts = takes().await;
    assert!(attempts <= 3, "{attempts} attempts before the waiter slept");
    for _ in 0..20 {
        tokio::time::sleep(POLL).await;
        assert_eq!(takes().await, attempts, "the waiter tried again unwoken");
    }
    lease.release().await.unwrap();
    let got = tokio::time::timeout(PATIENCE, waiting).await;
    assert!(matches!(got, Ok(Ok(Ok(true)))), "{got:?}");
    assert_eq!(takes().await, attempts + 1, "one attempt on the release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_with_postgres_away_is_a_transient_error() {
    support::require_postgres!();
    let mut server = PgServer::start();
    let storage = PostgresStorage::builder(server.url())
        .with_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    server.stop();
    let err = lease.release().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("releasing the refresh lease"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_shows_the_table_and_whether_it_is_held_but_never_the_owner_or_key() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    let client = server.client().await;
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    let (owner, _) = lease_row(&client, &storage, KEY).await.unwrap();
    let shown = format!("{lease:?}");
    assert!(shown.contains("PostgresLease"), "{shown}");
    assert!(shown.contains("held: true"), "{shown}");
    assert!(shown.contains("credkit_leases"), "{shown}");
    // The owner value releases the lease; the caller's key may name a user.
    assert!(!shown.contains(&owner), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
    lease.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_cancelled_before_the_server_took_the_lease_gives_it_back_when_it_does() {
    support::require_postgres!();
    let server = PgServer::start();
    // A time to live far past the test: only a release frees the row in time.
    let storage = PostgresStorage::builder(server.url())
        .with_lease_ttl(Duration::from_secs(120))
        .with_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    storage.migrate().await.unwrap();
    let mut client = server.client().await;
    let leases = storage.leases_table().to_owned();
    // An expired row, locked by the test: a take waits on the lock, then takes the row over.
    client
        .execute(
            &format!(
                "INSERT INTO {leases} (key, owner, expires_at) VALUES ($1, 'dead', now() - interval '1 second')"
            ),
            &[&KEY],
        )
        .await
        .unwrap();
    let locking = client.transaction().await.unwrap();
    locking
        .execute(
            &format!("SELECT 1 FROM {leases} WHERE key = $1 FOR UPDATE"),
            &[&KEY],
        )
        .await
        .unwrap();
    let taking = tokio::spawn({
        let storage = storage.clone();
        async move { storage.lease(KEY, &wait()).await.map(drop) }
    });
    // The take's statement is on the server, waiting for the lock.
    let watcher = server.client().await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let blocked: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if blocked > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the take never reached the lock");
        tokio::time::sleep(POLL).await;
    }
    taking.abort();
    assert!(taking.await.unwrap_err().is_cancelled());
    // The lock goes: the statement takes the expired row over for the cancelled take, which
    // gives it back.
    locking.commit().await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while let Some((owner, _)) = lease_row(&watcher, &storage, KEY).await {
        assert!(
            Instant::now() < deadline,
            "the cancelled take kept the lease (owner {owner})"
        );
        tokio::time::sleep(POLL).await;
    }
    // Free for anyone.
    storage.clone().lease(KEY, &now()).await.unwrap().unwrap();
}
