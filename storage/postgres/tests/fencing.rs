//! A holder whose lease lapsed mid-refresh cannot overwrite a newer rotation: its store is
//! fenced off with a permanent storage error, and `Credentials` uses the newer record. Stores
//! under one lease each land; clones are holders of their own; a record removed under a lease
//! is stored again; a refresh longer than the time to live keeps its lease by renewal.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use credkit_core::{
    AccessToken, CredentialRecord, Credentials, ErrorKind, LeaseOptions, Result, Storage,
    SystemClock, TokenSource,
};
use credkit_storage_postgres::PostgresStorage;
use secrecy::{ExposeSecret, SecretString};
use support::PgServer;
use tokio::sync::Notify;

const KEY: &str = "fleet:user";

fn record(access: &str, refresh: &str) -> CredentialRecord {
    let expiry = credkit_core::time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
    CredentialRecord::new()
        .with_access_token(&AccessToken::new(access).with_expiry(expiry))
        .with_refresh_token(SecretString::from(refresh.to_owned()))
}

fn wait() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(5), SystemClock)
}

async fn stored_refresh(storage: &PostgresStorage, key: &str) -> String {
    let record = storage.load(key).await.unwrap().unwrap();
    record.refresh_token().unwrap().expose_secret().to_owned()
}

/// The lease on `key` lapses (a pause longer than its time to live): its row is gone.
async fn lapse(server: &PgServer, storage: &PostgresStorage, key: &str) {
    server
        .client()
        .await
        .execute(
            &format!("DELETE FROM {} WHERE key = $1", storage.leases_table()),
            &[&key],
        )
        .await
        .unwrap();
}

async fn generation(server: &PgServer, storage: &PostgresStorage, key: &str) -> i64 {
    let sql = format!(
        "SELECT generation FROM {} WHERE key = $1",
        storage.records_table()
    );
    let row = server
        .client()
        .await
        .query_opt(&sql, &[&key])
        .await
        .unwrap();
    row.map_or(0, |row| row.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_holders_store_is_fenced_off() {
    support::require_postgres!();
    let server = PgServer::start();
    let a = PostgresStorage::new(&server.url()).unwrap();
    let b = PostgresStorage::new(&server.url()).unwrap();
    a.store(KEY, &record("at-0", "rt-0")).await.unwrap();

    let stale = a.lease(KEY, &wait()).await.unwrap().unwrap();
    lapse(&server, &a, KEY).await;
    let fresh = b.lease(KEY, &wait()).await.unwrap().unwrap();
    b.store(KEY, &record("at-b", "rt-b")).await.unwrap();
    fresh.release().await.unwrap();

    let err = a.store(KEY, &record("at-a", "rt-a")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err}");
    assert!(!stale.is_held(), "a fenced store marks the lease lost");
    assert_eq!(stored_refresh(&a, KEY).await, "rt-b");
    drop(stale);

    // Without the lease, stores land as usual.
    a.store(KEY, &record("at-c", "rt-c")).await.unwrap();
    assert_eq!(stored_refresh(&b, KEY).await, "rt-c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_under_one_lease_each_expect_the_generation_the_last_one_wrote() {
    support::require_postgres!();
    let server = PgServer::start();
    let a = PostgresStorage::new(&server.url()).unwrap();
    a.store(KEY, &record("at-0", "rt-0")).await.unwrap();
    assert_eq!(generation(&server, &a, KEY).await, 1);
    let lease = a.lease(KEY, &wait()).await.unwrap().unwrap();
    for (expected, refresh) in [(2, "rt-1"), (3, "rt-2"), (4, "rt-3")] {
        a.store(KEY, &record("at", refresh)).await.unwrap();
        assert_eq!(generation(&server, &a, KEY).await, expected);
    }
    assert!(lease.is_held());
    lease.release().await.unwrap();
    assert_eq!(stored_refresh(&a, KEY).await, "rt-3");
    // Unfenced stores move the generation on too.
    a.store(KEY, &record("at", "rt-4")).await.unwrap();
    assert_eq!(generation(&server, &a, KEY).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_gone_under_a_lease_is_stored_again_past_the_fence() {
    support::require_postgres!();
    let server = PgServer::start();
    let a = PostgresStorage::new(&server.url()).unwrap();
    for n in 0..3 {
        a.store(KEY, &record("at", &format!("rt-{n}")))
            .await
            .unwrap();
    }
    let lease = a.lease(KEY, &wait()).await.unwrap().unwrap();
    // Removed behind the holder's back (an operator, a restore): the holder's record is newer.
    a.clone().remove(KEY).await.unwrap();
    a.store(KEY, &record("at", "rt-new")).await.unwrap();
    assert_eq!(generation(&server, &a, KEY).await, 4, "past the fence (3)");
    assert!(lease.is_held());
    a.store(KEY, &record("at", "rt-newer")).await.unwrap();
    assert_eq!(generation(&server, &a, KEY).await, 5);
    lease.release().await.unwrap();
    assert_eq!(stored_refresh(&a, KEY).await, "rt-newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_are_holders_of_their_own() {
    support::require_postgres!();
    let server = PgServer::start();
    let a = PostgresStorage::new(&server.url()).unwrap();
    let b = a.clone();
    a.store(KEY, &record("at-0", "rt-0")).await.unwrap();
    let stale = a.lease(KEY, &wait()).await.unwrap().unwrap();
    // The clone is another holder: it cannot take the lease a holds.
    let now = LeaseOptions::new(Duration::ZERO, SystemClock);
    let err = b.lease(KEY, &now).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // Nor is its store fenced by a's lease: it lands.
    b.store(KEY, &record("at-b", "rt-b")).await.unwrap();
    // And a's store, under a lease that began before b's store, is fenced off.
    let err = a.store(KEY, &record("at-a", "rt-a")).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(!stale.is_held());
    drop(stale);
    // Leases on another key fence nothing here.
    let other = a.lease("fleet:other", &wait()).await.unwrap().unwrap();
    a.store(KEY, &record("at-a", "rt-a")).await.unwrap();
    assert_eq!(stored_refresh(&b, KEY).await, "rt-a");
    other.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_handle_with_two_leases_on_a_key_never_lets_the_lapsed_one_through() {
    support::require_postgres!();
    let server = PgServer::start();
    let a = PostgresStorage::new(&server.url()).unwrap();
    a.store(KEY, &record("at-0", "rt-0")).await.unwrap();
    let first = a.lease(KEY, &wait()).await.unwrap().unwrap();
    lapse(&server, &a, KEY).await;
    // The same handle takes the key's lease again: the first one lapsed.
    let second = a.lease(KEY, &wait()).await.unwrap().unwrap();
    assert!(!first.is_held());
    assert!(second.is_held());
    a.store(KEY, &record("at-2", "rt-2")).await.unwrap();
    assert_eq!(stored_refresh(&a, KEY).await, "rt-2");
    drop(first);
    second.release().await.unwrap();
}

/// A source whose fetch waits for the test, then returns a token with a rotation; it
/// remembers the refresh tokens it adopted.
#[derive(Debug, Default)]
struct Slow {
    started: Notify,
    go: Notify,
    adopted: Mutex<Vec<String>>,
}

#[async_trait]
impl TokenSource for Slow {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.started.notify_one();
        self.go.notified().await;
        let expiry = credkit_core::time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
        Ok(AccessToken::new("at-a")
            .with_expiry(expiry)
            .with_rotated_refresh_token(SecretString::from("rt-a")))
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(refresh) = record.refresh_token() {
            self.adopted
                .lock()
                .unwrap()
                .push(refresh.expose_secret().to_owned());
        }
    }
}

fn expired() -> CredentialRecord {
    CredentialRecord::new()
        .with_access_token(
            &AccessToken::new("at-0").with_expiry(
                credkit_core::time::OffsetDateTime::now_utc() - Duration::from_secs(60),
            ),
        )
        .with_refresh_token(SecretString::from("rt-0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_use_the_newer_record_after_a_fenced_store() {
    support::require_postgres!();
    let server = PgServer::start();
    let a = PostgresStorage::new(&server.url()).unwrap();
    let b = PostgresStorage::new(&server.url()).unwrap();
    a.store(KEY, &expired()).await.unwrap();

    let source = Arc::new(Slow::default());
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_storage(a.clone(), KEY)
        .build()
        .unwrap();
    let caller = tokio::spawn({
        let credentials = credentials.clone();
        async move { credentials.access_token().await }
    });
    source.started.notified().await;
    // While A fetches, its lease lapses and B refreshes and stores a newer rotation.
    lapse(&server, &a, KEY).await;
    let lease = b.lease(KEY, &wait()).await.unwrap().unwrap();
    b.store(KEY, &record("at-b", "rt-b")).await.unwrap();
    lease.release().await.unwrap();
    source.go.notify_one();

    let token = caller.await.unwrap().unwrap();
    assert_eq!(
        token.secret().expose_secret(),
        "at-b",
        "the newer record wins"
    );
    assert_eq!(source.adopted.lock().unwrap().last().unwrap(), "rt-b");
    assert_eq!(stored_refresh(&b, KEY).await, "rt-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_keeps_the_lease_of_a_refresh_longer_than_its_time_to_live() {
    support::require_postgres!();
    let server = PgServer::start();
    let ttl = Duration::from_millis(900);
    let a = PostgresStorage::builder(server.url())
        .with_lease_ttl(ttl)
        .build()
        .unwrap();
    let b = a.clone();
    a.store(KEY, &expired()).await.unwrap();
    let source = Arc::new(Slow::default());
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_storage(a.clone(), KEY)
        .build()
        .unwrap();
    let caller = tokio::spawn({
        let credentials = credentials.clone();
        async move { credentials.access_token().await }
    });
    source.started.notified().await;
    // Three times to live into the refresh, the lease is still held: nobody else gets it.
    let started = Instant::now();
    while started.elapsed() < ttl * 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = LeaseOptions::new(Duration::ZERO, SystemClock);
    let err = b.lease(KEY, &now).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    source.go.notify_one();
    let token = caller.await.unwrap().unwrap();
    assert_eq!(token.secret().expose_secret(), "at-a");
    // The refresh's store landed under its lease.
    assert_eq!(stored_refresh(&b, KEY).await, "rt-a");
    assert!(source.adopted.lock().unwrap().iter().all(|rt| rt != "rt-b"));
}
