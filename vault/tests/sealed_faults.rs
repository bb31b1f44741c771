//! The vault over a sealed store (Redis): a record sealed with a retired key, and a record moved
//! to another user's key. Skipped in one line without redis-server.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_core::{Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use credkit_testing::{FakeTokenEndpoint, Reply};
use credkit_vault::{DataKey, Grant, Keyring, SealedCodec, SealedError, Vault};
use support::redis::RedisServer;
use support::{Events, client};

fn key(id: &str, byte: u8) -> DataKey {
    DataKey::new(id, [byte; 32]).unwrap()
}

fn sealed_storage(url: &str, keyring: Keyring) -> RedisStorage {
    RedisStorage::builder(url)
        .with_listing()
        .with_codec(SealedCodec::new(keyring))
        .build()
        .unwrap()
}

fn vault_on(storage: RedisStorage, endpoint: &FakeTokenEndpoint) -> Vault {
    Vault::builder(client(endpoint), storage)
        .with_transport(endpoint.clone())
        .with_clock(SystemClock)
        .on_event(Events::default().observer())
        .build()
        .unwrap()
}

/// The raw bytes Redis holds for `key`'s record.
fn raw(url: &str, storage: &RedisStorage, key: &str) -> Vec<u8> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_connection().unwrap();
    redis::cmd("HGET")
        .arg(storage.record_key(key))
        .arg("rec")
        .query(&mut connection)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_sealed_with_a_retired_key_serves_and_is_resealed_with_the_current_one() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("at-old-key"));
    let old = vault_on(
        sealed_storage(&url, Keyring::new(key("2026-06", 1))),
        &endpoint,
    );
    old.insert("alice", Grant::new("rt-alice".to_owned()))
        .await
        .unwrap();
    let probe = sealed_storage(&url, Keyring::new(key("2026-06", 1)));
    assert_eq!(
        SealedCodec::key_id_of(&raw(&url, &probe, "vault:alice")),
        Some("2026-06")
    );

    // Rotated: a new current key, the old one retired.
    let rotated = Keyring::new(key("2026-12", 2))
        .with_retired(key("2026-06", 1))
        .unwrap();
    let vault = vault_on(sealed_storage(&url, rotated), &endpoint);
    let headers = vault.headers("alice").await.unwrap();
    assert_eq!(headers["authorization"], "Bearer at-old-key");
    // The refresh stored the record again: sealed with the current key now.
    assert_eq!(
        SealedCodec::key_id_of(&raw(&url, &probe, "vault:alice")),
        Some("2026-12")
    );

    // A record nobody refreshed stays on the old key until resealed.
    old.insert("bob", Grant::new("rt-bob".to_owned()))
        .await
        .unwrap();
    let without_old = vault_on(
        sealed_storage(&url, Keyring::new(key("2026-12", 2))),
        &endpoint,
    );
    let err = without_old.headers("bob").await.unwrap_err();
    assert!(
        matches!(SealedError::of(&err), Some(SealedError::UnknownKey { key_id }) if key_id == "2026-06"),
        "{err}"
    );
    assert!(
        err.to_string().contains("with_retired"),
        "says what to do: {err}"
    );
    assert!(!err.to_string().contains("rt-bob"));
    assert!(vault.reseal("bob").await.unwrap());
    assert_eq!(
        SealedCodec::key_id_of(&raw(&url, &probe, "vault:bob")),
        Some("2026-12")
    );
    without_old.forget("bob");
    assert!(without_old.status("bob").await.unwrap().has_refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_moved_under_another_users_key_is_refused_never_served() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    let endpoint = FakeTokenEndpoint::new();
    let keyring = || Keyring::new(key("k1", 7));
    let storage = sealed_storage(&url, keyring());
    let vault = vault_on(sealed_storage(&url, keyring()), &endpoint);
    let token = credkit_core::AccessToken::new("at-alice").with_lifetime(
        credkit_core::Clock::now(&SystemClock),
        std::time::Duration::from_secs(3600),
    );
    vault
        .insert(
            "alice",
            Grant::new("rt-alice".to_owned()).with_access_token(token),
        )
        .await
        .unwrap();
    vault
        .insert("mallory", Grant::new("rt-mallory".to_owned()))
        .await
        .unwrap();
    // An operator (or an attacker with write access to Redis) copies Alice's record over
    // Mallory's.
    let alice = raw(&url, &storage, "vault:alice");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_connection().unwrap();
    redis::cmd("HSET")
        .arg(storage.record_key("vault:mallory"))
        .arg("rec")
        .arg(alice)
        .query::<()>(&mut connection)
        .unwrap();

    vault.forget("mallory");
    let err = vault.headers("mallory").await.unwrap_err();
    assert!(
        matches!(SealedError::of(&err), Some(SealedError::ForeignOrAltered)),
        "{err}"
    );
    assert!(!err.to_string().contains("at-alice"));
    let err = storage.load("vault:mallory").await.unwrap_err();
    assert!(
        !err.is_transient(),
        "a record that does not open is permanent: {err}"
    );
    // Alice is untouched.
    let headers = vault.headers("alice").await.unwrap();
    assert_eq!(headers["authorization"], "Bearer at-alice");
    assert_eq!(support::token_requests(&endpoint), 0);
}
