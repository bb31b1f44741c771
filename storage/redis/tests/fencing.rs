//! A holder whose lease lapsed mid-refresh cannot overwrite a newer rotation: its store is
//! fenced off with a permanent storage error, and `Credentials` uses the newer record.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, CredentialRecord, Credentials, ErrorKind, LeaseOptions, Result, Storage,
    SystemClock, TokenSource,
};
use secrecy::{ExposeSecret, SecretString};
use support::RedisServer;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_holders_store_is_fenced_off() {
    support::require_redis!();
    let server = RedisServer::start();
    let a = credkit_storage_redis::RedisStorage::new(&server.url()).unwrap();
    let b = credkit_storage_redis::RedisStorage::new(&server.url()).unwrap();
    a.store(KEY, &record("at-0", "rt-0")).await.unwrap();

    let stale = a.lease(KEY, &wait()).await.unwrap().unwrap();
    // The lease lapses (a pause longer than its time to live, as seen by Redis).
    let lease_key = format!("{}:lease", a.record_key(KEY));
    server.command(&["DEL", &lease_key]);
    let fresh = b.lease(KEY, &wait()).await.unwrap().unwrap();
    b.store(KEY, &record("at-b", "rt-b")).await.unwrap();
    fresh.release().await.unwrap();

    let err = a.store(KEY, &record("at-a", "rt-a")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err}");
    assert!(!stale.is_held(), "a fenced store marks the lease lost");
    let kept = a.load(KEY).await.unwrap().unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-b");
    drop(stale);

    // Without the lease, stores land as usual.
    a.store(KEY, &record("at-c", "rt-c")).await.unwrap();
    let kept = b.load(KEY).await.unwrap().unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_under_one_lease_each_expect_the_generation_the_last_one_wrote() {
    support::require_redis!();
    let server = RedisServer::start();
    let a = credkit_storage_redis::RedisStorage::new(&server.url()).unwrap();
    a.store(KEY, &record("at-0", "rt-0")).await.unwrap();
    let lease = a.lease(KEY, &wait()).await.unwrap().unwrap();
    for (generation, refresh) in [(2, "rt-1"), (3, "rt-2"), (4, "rt-3")] {
        a.store(KEY, &record("at", refresh)).await.unwrap();
        let found = server.command(&["HGET", &a.record_key(KEY), "gen"]);
        assert_eq!(
            found,
            redis::Value::BulkString(generation.to_string().into())
        );
    }
    assert!(lease.is_held());
    lease.release().await.unwrap();
    let kept = a.load(KEY).await.unwrap().unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-3");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_use_the_newer_record_after_a_fenced_store() {
    support::require_redis!();
    let server = RedisServer::start();
    let a = credkit_storage_redis::RedisStorage::new(&server.url()).unwrap();
    let b = credkit_storage_redis::RedisStorage::new(&server.url()).unwrap();
    let expired =
        CredentialRecord::new()
            .with_access_token(&AccessToken::new("at-0").with_expiry(
                credkit_core::time::OffsetDateTime::now_utc() - Duration::from_secs(60),
            ))
            .with_refresh_token(SecretString::from("rt-0"));
    a.store(KEY, &expired).await.unwrap();

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
    server.command(&["DEL", &format!("{}:lease", a.record_key(KEY))]);
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
    let stored = b.load(KEY).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose_secret(), "rt-b");
}
