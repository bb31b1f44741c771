//! A failover to a replica that lost the last writes: the record's generation goes backwards.
//! A lease holder whose record is newer than the one Redis now holds still stores it (and its
//! generation moves past every one it knew), so no rotation it holds is lost; a record with a
//! higher generation than the holder's still fences it off, and the holder then adopts it;
//! nobody is fenced for good.
//!
//! "The replica lost the last writes" is played by `DUMP`ing the record hash and `RESTORE`ing
//! that older value later (and deleting the lease key, when the lease was lost too).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use credkit_core::{CredentialRecord, Credentials, ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use secrecy::{ExposeSecret, SecretString};
use support::RedisServer;
use support::rotating::{Issuer, Rotating, credentials_on, expired};

const KEY: &str = "failover:user";

fn wait() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(5), SystemClock)
}

fn record(refresh: &str) -> CredentialRecord {
    CredentialRecord::new().with_refresh_token(SecretString::from(refresh.to_owned()))
}

async fn stored_refresh(storage: &RedisStorage) -> String {
    let record = storage.load(KEY).await.unwrap().unwrap();
    record.refresh_token().unwrap().expose_secret().to_owned()
}

/// Stores `rt-1` … `rt-N`: the record is at generation N.
async fn stores(storage: &RedisStorage, n: i64) {
    for i in 1..=n {
        storage
            .store(KEY, &record(&format!("rt-{i}")))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_generation_went_backwards_still_stores_its_newer_record() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    let name = storage.record_key(KEY);
    stores(&storage, 5).await;
    let replica = server.snapshot(&name);
    stores(&storage, 2).await;
    assert_eq!(server.generation(&name), 7);

    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    // The primary fails; the replica promoted in its place never got generations 6 and 7.
    server.restore(&name, &replica);
    assert_eq!(server.generation(&name), 5);

    storage.store(KEY, &record("rt-8")).await.unwrap();
    assert_eq!(stored_refresh(&storage).await, "rt-8");
    // Past every generation the holder knew: a holder whose lease began on generation 6 or 7
    // of the lost history is fenced off by it.
    assert_eq!(server.generation(&name), 8);
    assert!(
        lease.is_held(),
        "the store landed: nothing says the lease lapsed"
    );
    // A second store under the same lease expects the generation the first one wrote.
    storage.store(KEY, &record("rt-9")).await.unwrap();
    assert_eq!(server.generation(&name), 9);
    lease.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_gone_under_a_lease_is_stored_again() {
    support::require_redis!();
    // A removal, an eviction or a restart without persistence: the same as a failover to a
    // replica that never had the record.
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    stores(&storage, 3).await;
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    storage.remove(KEY).await.unwrap();
    storage.store(KEY, &record("rt-4")).await.unwrap();
    assert_eq!(stored_refresh(&storage).await, "rt-4");
    assert_eq!(server.generation(&storage.record_key(KEY)), 4);
    assert!(lease.is_held());
    lease.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_a_reused_generation_goes_to_the_holder_that_knew_more() {
    support::require_redis!();
    let server = RedisServer::start();
    let a = RedisStorage::new(&server.url()).unwrap();
    let b = RedisStorage::new(&server.url()).unwrap();
    let name = a.record_key(KEY);
    stores(&a, 5).await;
    let replica = server.snapshot(&name);
    stores(&a, 1).await;

    // A's lease began on generation 6. The replica promoted has neither generation 6 nor A's
    // lease, so B takes the lease on generation 5 and writes a generation 6 of its own.
    let a_lease = a.lease(KEY, &wait()).await.unwrap().unwrap();
    server.restore(&name, &replica);
    server.command(&["DEL", &format!("{name}:lease")]);
    let b_lease = b.lease(KEY, &wait()).await.unwrap().unwrap();
    b.store(KEY, &record("rt-b")).await.unwrap();
    assert_eq!(server.generation(&name), 6);

    // The same number, not the same record: B's generation 6 was made from generation 5,
    // which A's history had already passed, so A's store is not fenced by it...
    a.store(KEY, &record("rt-a")).await.unwrap();
    assert_eq!(stored_refresh(&a).await, "rt-a");
    assert_eq!(server.generation(&name), 7);
    // ...and B, whose lease began before A's record, is fenced off by it and loads it.
    let err = b.store(KEY, &record("rt-b2")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
    assert!(err.to_string().contains("generation 7"), "{err}");
    assert!(!b_lease.is_held());
    assert!(a_lease.is_held());
    assert_eq!(stored_refresh(&b).await, "rt-a");
    drop((a_lease, b_lease));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_a_history_that_went_further_still_fences_the_holder_off() {
    support::require_redis!();
    let server = RedisServer::start();
    let a = RedisStorage::new(&server.url()).unwrap();
    let b = RedisStorage::new(&server.url()).unwrap();
    let name = a.record_key(KEY);
    stores(&a, 3).await;
    let replica = server.snapshot(&name);
    stores(&a, 4).await;
    let a_lease = a.lease(KEY, &wait()).await.unwrap().unwrap();
    server.restore(&name, &replica);
    server.command(&["DEL", &format!("{name}:lease")]);

    // Since the failover B stored five times, past A's generation 7.
    let b_lease = b.lease(KEY, &wait()).await.unwrap().unwrap();
    for i in 1..=5 {
        b.store(KEY, &record(&format!("rt-b{i}"))).await.unwrap();
    }
    b_lease.release().await.unwrap();
    assert_eq!(server.generation(&name), 8);

    let err = a.store(KEY, &record("rt-a")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(
        err.to_string(),
        "the store was fenced off: the lease lapsed and another holder stored a newer record \
         (generation 8, this lease began at 7); the newer record is kept"
    );
    assert!(!a_lease.is_held());
    assert_eq!(stored_refresh(&a).await, "rt-b5");
    drop(a_lease);
    // Fenced once, not for good: the next lease stores.
    let again = a.lease(KEY, &wait()).await.unwrap().unwrap();
    a.store(KEY, &record("rt-a2")).await.unwrap();
    assert_eq!(server.generation(&name), 9);
    again.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_keep_their_rotation_when_a_failover_loses_the_last_writes() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    let name = storage.record_key(KEY);
    let issuer = Issuer::strict();
    // The replica has the record with rt-0; the primary also took rt-1, issued for rt-0
    // (which a strict server then no longer accepts).
    storage.store(KEY, &expired("at-0", "rt-0")).await.unwrap();
    let replica = server.snapshot(&name);
    let elsewhere = Credentials::builder(Rotating::new(&issuer))
        .with_storage(storage.clone(), KEY)
        .build()
        .unwrap();
    assert_eq!(
        elsewhere.refresh().await.unwrap().secret().expose_secret(),
        "at-1"
    );
    assert_eq!(stored_refresh(&storage).await, "rt-1");
    // Make the stored access token expired again, so the next process refreshes.
    storage.store(KEY, &expired("at-1", "rt-1")).await.unwrap();

    let source = Rotating::gated(&issuer);
    let credentials = credentials_on(&source, &storage, KEY);
    let caller = tokio::spawn({
        let credentials = credentials.clone();
        async move { credentials.access_token().await }
    });
    // Under the lease, with rt-1 adopted, the fetch is on its way; the primary fails.
    source.started.notified().await;
    assert_eq!(source.holds(), "rt-1");
    server.restore(&name, &replica);
    source.open();

    let token = caller.await.unwrap().unwrap();
    assert_eq!(token.secret().expose_secret(), "at-2");
    assert_eq!(issuer.latest(), "rt-2");
    assert_eq!(
        stored_refresh(&storage).await,
        "rt-2",
        "the rotation is stored"
    );
    assert_eq!(source.holds(), "rt-2");
    assert!(
        !source.adopted().contains(&"rt-0".to_owned()),
        "the replica's older record is never adopted: {:?}",
        source.adopted()
    );
    // And the next refresh works, with the rotation kept.
    source.open();
    assert_eq!(
        credentials
            .refresh()
            .await
            .unwrap()
            .secret()
            .expose_secret(),
        "at-3"
    );
    assert_eq!(stored_refresh(&storage).await, "rt-3");
}
