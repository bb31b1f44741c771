//! `with_loaded_record`: a record the caller loaded seeds the cache and spares the first
//! refresh a second read; `has_unstored_rotation` tells a holder of many `Credentials` which
//! one must not be dropped.
#![allow(clippy::unwrap_used)]

mod credentials_support;

use std::sync::Arc;

use credkit_core::{AccessToken, Clock, CredentialRecord, Credentials, Storage, TokenState};
use credkit_testing::{CountingStorage, FakeClock};
use futures::executor::block_on;
use secrecy::{ExposeSecret, SecretString};

use credentials_support::{HOUR, TestSource};

const KEY: &str = "user-1";

fn record(clock: &FakeClock, access: &str) -> CredentialRecord {
    CredentialRecord::new()
        .with_access_token(&AccessToken::new(access).with_lifetime(clock.now(), HOUR))
        .with_refresh_token(SecretString::from("rt-stored"))
}

#[test]
fn a_loaded_record_seeds_the_cache_and_the_first_refresh_reads_once_under_the_lease() {
    let clock = FakeClock::new();
    let storage = Arc::new(CountingStorage::default());
    let stored = record(&clock, "at-stored");
    block_on(storage.memory().store(KEY, &stored)).unwrap();
    let source = TestSource::new(&clock);
    source.then(Ok(
        AccessToken::new("at-new").with_lifetime(clock.now() + HOUR, HOUR)
    ));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_storage(Arc::clone(&storage), KEY)
        .with_loaded_record(stored)
        .without_retries()
        .build()
        .unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    let token = block_on(credentials.access_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "at-stored");
    assert_eq!(storage.loads(), 0, "served from the loaded record");

    clock.advance(HOUR);
    let token = block_on(credentials.access_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "at-new");
    assert_eq!(source.fetches(), 1);
    assert_eq!(
        storage.loads(),
        1,
        "one read, under the lease, before the refresh"
    );
}

#[test]
fn without_a_loaded_record_the_first_refresh_reads_twice() {
    // The comparison that shows what with_loaded_record saves.
    let clock = FakeClock::new();
    let storage = Arc::new(CountingStorage::default());
    let source = TestSource::new(&clock);
    source.then(Ok(
        AccessToken::new("at-new").with_lifetime(clock.now(), HOUR)
    ));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_storage(Arc::clone(&storage), KEY)
        .without_retries()
        .build()
        .unwrap();
    block_on(credentials.access_token()).unwrap();
    assert_eq!(storage.loads(), 2);
}

#[test]
fn a_loaded_record_is_ignored_without_a_storage() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_loaded_record(record(&clock, "at-stored"))
        .build()
        .unwrap();
    assert_eq!(credentials.token_state(), TokenState::Invalid);
}

#[test]
fn a_rotation_the_storage_did_not_take_is_reported_until_stored() {
    let clock = FakeClock::new();
    let storage = Arc::new(CountingStorage::default());
    storage.refuse_stores(true);
    let source = TestSource::new(&clock);
    for _ in 0..2 {
        source.then(Ok(AccessToken::new("at")
            .with_lifetime(clock.now(), HOUR)
            .with_rotated_refresh_token(SecretString::from("rt-rotated"))));
    }
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_storage(Arc::clone(&storage), KEY)
        .without_retries()
        .build()
        .unwrap();
    assert!(!credentials.has_unstored_rotation());
    block_on(credentials.access_token()).unwrap();
    assert!(credentials.has_unstored_rotation(), "the store failed");
    storage.refuse_stores(false);
    block_on(credentials.refresh()).unwrap();
    assert!(
        !credentials.has_unstored_rotation(),
        "stored at the next refresh"
    );
    let kept = block_on(storage.memory().load(KEY)).unwrap().unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-rotated");
}
