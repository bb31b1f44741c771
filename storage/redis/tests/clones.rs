//! Clones of one `RedisStorage` share its connection, not its fences: each clone is a holder
//! of its own, fenced by the leases taken through it alone, exactly as two processes are. Two
//! `Credentials` on clones with one key fence each other off as two processes would; with
//! different keys they never meet. Two holders on one handle (not clones) stay safe: a lapsed
//! holder's store never passes under the newer lease.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use credkit_core::{CredentialRecord, ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use secrecy::{ExposeSecret, SecretString};
use support::RedisServer;
use support::rotating::{Issuer, Rotating, credentials_on, expired};

const KEY: &str = "clones:user";
const OTHER: &str = "clones:other-user";

fn wait() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(5), SystemClock)
}

fn record(refresh: &str) -> CredentialRecord {
    CredentialRecord::new().with_refresh_token(SecretString::from(refresh.to_owned()))
}

async fn stored_refresh(storage: &RedisStorage, key: &str) -> String {
    let record = storage.load(key).await.unwrap().unwrap();
    record.refresh_token().unwrap().expose_secret().to_owned()
}

/// The lease lapses, as when its holder paused longer than its time to live.
fn lapse(server: &RedisServer, storage: &RedisStorage, key: &str) {
    server.command(&["DEL", &format!("{}:lease", storage.record_key(key))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_holder_on_one_clone_is_fenced_off_by_a_newer_holder_on_another() {
    support::require_redis!();
    let server = RedisServer::start();
    let first = RedisStorage::new(&server.url()).unwrap();
    let second = first.clone();
    first.store(KEY, &record("rt-0")).await.unwrap();

    let stale = first.lease(KEY, &wait()).await.unwrap().unwrap();
    lapse(&server, &first, KEY);
    let fresh = second.lease(KEY, &wait()).await.unwrap().unwrap();
    second.store(KEY, &record("rt-second")).await.unwrap();

    // The lapsed holder's store is fenced by its own lease, not let through by the other's.
    let err = first.store(KEY, &record("rt-first")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
    assert!(!stale.is_held());
    assert!(fresh.is_held(), "the other clone's lease is untouched");
    assert_eq!(stored_refresh(&first, KEY).await, "rt-second");
    // The newer holder's next store still expects its own last generation.
    second.store(KEY, &record("rt-second-2")).await.unwrap();
    fresh.release().await.unwrap();

    // Released or not, the other clone's lease never stands in for the lapsed one.
    let err = first.store(KEY, &record("rt-first")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(stored_refresh(&first, KEY).await, "rt-second-2");
    drop(stale);
    first.store(KEY, &record("rt-first-2")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_through_a_clone_without_the_lease_is_not_fenced_by_another_clones_lease() {
    support::require_redis!();
    let server = RedisServer::start();
    let holder = RedisStorage::new(&server.url()).unwrap();
    let other = holder.clone();
    holder.store(KEY, &record("rt-0")).await.unwrap();
    let lease = holder.lease(KEY, &wait()).await.unwrap().unwrap();

    // A store without the lease (a refresh after a lease timeout, say) lands, as it would
    // from another process, and moves nobody's fence...
    other.store(KEY, &record("rt-other")).await.unwrap();
    assert!(lease.is_held());
    // ...so the holder's store finds a newer record than its lease began on, and is fenced.
    let err = holder.store(KEY, &record("rt-holder")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!lease.is_held());
    assert_eq!(stored_refresh(&holder, KEY).await, "rt-other");
    drop(lease);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_handle_with_two_leases_on_a_key_never_lets_the_lapsed_one_through() {
    support::require_redis!();
    // Two holders sharing one handle (not clones): a store does not say whose it is.
    let server = RedisServer::start();
    let shared = RedisStorage::new(&server.url()).unwrap();
    let elsewhere = RedisStorage::new(&server.url()).unwrap();
    shared.store(KEY, &record("rt-0")).await.unwrap();
    let lapsed = shared.lease(KEY, &wait()).await.unwrap().unwrap();
    lapse(&server, &shared, KEY);
    elsewhere.store(KEY, &record("rt-elsewhere")).await.unwrap();
    let current = shared.lease(KEY, &wait()).await.unwrap().unwrap();
    assert!(!lapsed.is_held(), "the server gave its lease out again");
    assert!(current.is_held());

    // Fenced by the lapsed lease's generation: refused, whoever made it.
    let err = shared.store(KEY, &record("rt-either")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(stored_refresh(&shared, KEY).await, "rt-elsewhere");
    assert!(
        current.is_held(),
        "the record is the one its lease began on"
    );
    // A record newer than both leases began on: both have lapsed.
    elsewhere
        .store(KEY, &record("rt-elsewhere-2"))
        .await
        .unwrap();
    assert!(shared.store(KEY, &record("rt-either")).await.is_err());
    assert!(!current.is_held());
    assert_eq!(stored_refresh(&shared, KEY).await, "rt-elsewhere-2");
    drop((lapsed, current));

    // With one lease again, it fences alone and moves on with each store.
    let only = shared.lease(KEY, &wait()).await.unwrap().unwrap();
    shared.store(KEY, &record("rt-only")).await.unwrap();
    shared.store(KEY, &record("rt-only-2")).await.unwrap();
    assert!(only.is_held());
    only.release().await.unwrap();
    assert_eq!(stored_refresh(&shared, KEY).await, "rt-only-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_on_different_keys_fence_only_their_own_key() {
    support::require_redis!();
    let server = RedisServer::start();
    let first = RedisStorage::new(&server.url()).unwrap();
    let second = first.clone();
    first.store(KEY, &record("rt-0")).await.unwrap();
    first.store(OTHER, &record("rt-0")).await.unwrap();
    let on_key = first.lease(KEY, &wait()).await.unwrap().unwrap();
    let on_other = second.lease(OTHER, &wait()).await.unwrap().unwrap();

    second.store(OTHER, &record("rt-other-1")).await.unwrap();
    first.store(KEY, &record("rt-key-1")).await.unwrap();
    // The same handle stores to a key it holds no lease on: not fenced by its other lease.
    first.store(OTHER, &record("rt-other-2")).await.unwrap();
    // ...which the holder of that key then finds in its way, as from another process.
    assert!(second.store(OTHER, &record("rt-other-3")).await.is_err());
    assert!(on_key.is_held());
    assert!(!on_other.is_held());
    first.store(KEY, &record("rt-key-2")).await.unwrap();
    assert_eq!(stored_refresh(&first, KEY).await, "rt-key-2");
    assert_eq!(stored_refresh(&first, OTHER).await, "rt-other-2");
    on_key.release().await.unwrap();
    drop(on_other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_credentials_on_clones_with_one_key_fence_each_other_as_two_processes_do() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    storage.store(KEY, &expired("at-0", "rt-0")).await.unwrap();
    // A server that still accepts an older refresh token, so that both refreshes succeed and
    // only the fence decides which rotation is kept.
    let issuer = Issuer::lenient();

    let slow = Rotating::gated(&issuer);
    let first = credentials_on(&slow, &storage, KEY);
    let caller = tokio::spawn({
        let first = first.clone();
        async move { first.access_token().await }
    });
    slow.started.notified().await;
    // The first one's lease lapses mid-fetch; the second one refreshes under a lease of its
    // own, through another clone of the same storage, and stores its rotation.
    lapse(&server, &storage, KEY);
    let fast = Rotating::new(&issuer);
    let second = credentials_on(&fast, &storage, KEY);
    let newer = second.access_token().await.unwrap();
    assert_eq!(newer.secret().expose_secret(), "at-1");
    assert_eq!(stored_refresh(&storage, KEY).await, "rt-1");
    slow.open();

    // The first one's store is fenced off: it adopts the second one's record and token.
    let token = caller.await.unwrap().unwrap();
    assert_eq!(
        token.secret().expose_secret(),
        "at-1",
        "the newer record wins"
    );
    assert_eq!(slow.holds(), "rt-1");
    assert_eq!(slow.adopted().last().unwrap(), "rt-1");
    assert_eq!(stored_refresh(&storage, KEY).await, "rt-1");
    assert_eq!(issuer.latest(), "rt-2", "its own fetch did happen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_credentials_on_clones_with_different_keys_each_keep_their_rotation() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    storage.store(KEY, &expired("at-0", "rt-0")).await.unwrap();
    storage
        .store(OTHER, &expired("other-at-0", "other-rt-0"))
        .await
        .unwrap();
    let (issuer, other_issuer) = (Issuer::strict(), Issuer::strict_named("other-"));

    let slow = Rotating::gated(&issuer);
    let first = credentials_on(&slow, &storage, KEY);
    let caller = tokio::spawn({
        let first = first.clone();
        async move { first.access_token().await }
    });
    slow.started.notified().await;
    // While the first holds the lease on its key, the second refreshes and stores twice.
    let fast = Rotating::new(&other_issuer);
    let second = credentials_on(&fast, &storage, OTHER);
    let token = second.access_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "other-at-1");
    let token = second.refresh().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "other-at-2");
    slow.open();

    let token = caller.await.unwrap().unwrap();
    assert_eq!(token.secret().expose_secret(), "at-1");
    assert_eq!(stored_refresh(&storage, KEY).await, "rt-1");
    assert_eq!(stored_refresh(&storage, OTHER).await, "other-rt-2");
    // Each adopted only its own key's record (a refresh re-reads it under the lease, forced
    // or not, so it may adopt its own earlier rotation too).
    assert!(!slow.adopted().is_empty());
    assert!(
        slow.adopted().iter().all(|rt| rt.starts_with("rt-")),
        "{:?}",
        slow.adopted()
    );
    assert!(!fast.adopted().is_empty());
    assert!(
        fast.adopted().iter().all(|rt| rt.starts_with("other-rt-")),
        "{:?}",
        fast.adopted()
    );
    // Both keep working.
    slow.open();
    let token = first.refresh().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "at-2");
    assert_eq!(stored_refresh(&storage, KEY).await, issuer.latest());
    let token = second.refresh().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "other-at-3");
    assert_eq!(stored_refresh(&storage, OTHER).await, other_issuer.latest());
}
