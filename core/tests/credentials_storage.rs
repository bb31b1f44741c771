//! `Credentials` with a `Storage`: load on start, store before handout, rotation, failures.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used)]

mod credentials_support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, ErrorKind, MemoryStorage, RefreshEvent,
    Storage, TokenState,
};
use credkit_testing::{FakeClock, MockStorage, MockTokenSource};
use futures::FutureExt;
use futures::executor::block_on;
use mockall::Sequence;
use secrecy::{ExposeSecret, SecretString};

use credentials_support::{Events, HOUR, TestSource, bearer};

const KEY: &str = "user@example.com";

fn provider_fields() -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("client_id".into(), "cid".into());
    fields
}

fn with_storage(
    clock: &FakeClock,
    source: impl credkit_core::TokenSource + 'static,
    storage: Arc<dyn Storage>,
    events: &Events,
) -> Credentials {
    Credentials::builder(source)
        .with_clock(clock.clone())
        .with_storage(storage, KEY)
        .without_retries()
        .on_refresh(events.observer())
        .build()
        .unwrap()
}

#[test]
fn the_token_and_rotated_refresh_token_are_stored_in_one_call_before_handout() {
    let clock = FakeClock::new();
    let log = Arc::new(Mutex::new(Vec::<&str>::new()));
    let handle: Arc<OnceLock<Credentials>> = Arc::new(OnceLock::new());
    let mut seq = Sequence::new();

    let mut storage = MockStorage::new();
    storage
        .expect_load()
        .withf(|key| key == KEY)
        .times(1)
        .in_sequence(&mut seq)
        .returning({
            let log = Arc::clone(&log);
            move |_| {
                log.lock().unwrap().push("load");
                Ok(None)
            }
        });
    let mut source = MockTokenSource::new();
    let now = clock.now();
    source
        .expect_fetch_token()
        .times(1)
        .in_sequence(&mut seq)
        .returning({
            let log = Arc::clone(&log);
            move || {
                log.lock().unwrap().push("fetch");
                Ok(AccessToken::new("at-new")
                    .with_lifetime(now, HOUR)
                    .with_rotated_refresh_token(SecretString::from("rt-rotated")))
            }
        });
    storage
        .expect_store()
        .withf(|key, record| {
            key == KEY
                && record
                    .access_token()
                    .is_some_and(|t| t.secret().expose_secret() == "at-new")
                && record
                    .refresh_token()
                    .is_some_and(|rt| rt.expose_secret() == "rt-rotated")
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning({
            let log = Arc::clone(&log);
            let handle = Arc::clone(&handle);
            move |_, _| {
                // Not yet handed out: nothing is cached while the store runs.
                let credentials = handle.get().unwrap();
                assert!(credentials.token().is_none());
                log.lock().unwrap().push("store");
                Ok(())
            }
        });
    storage.expect_remove().times(0);

    let credentials = Credentials::builder(source)
        .with_clock(clock.clone())
        .with_storage(storage, KEY)
        .on_refresh({
            let log = Arc::clone(&log);
            move |event: &RefreshEvent| {
                if matches!(event, RefreshEvent::Refreshed { .. }) {
                    log.lock().unwrap().push("published");
                }
            }
        })
        .build()
        .unwrap();
    handle.set(credentials.clone()).unwrap();

    let headers = block_on(credentials.headers()).unwrap();
    log.lock().unwrap().push("handout");
    assert_eq!(bearer(&headers), "at-new");
    assert_eq!(
        *log.lock().unwrap(),
        ["load", "fetch", "store", "published", "handout"]
    );
    // The cache never keeps the rotated refresh token.
    assert!(
        credentials
            .token()
            .unwrap()
            .rotated_refresh_token()
            .is_none()
    );
}

#[test]
fn a_fresh_stored_token_is_used_on_start_without_a_fetch() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let stored = AccessToken::new("stored").with_lifetime(clock.now(), HOUR);
    block_on(storage.store(KEY, &CredentialRecord::new().with_access_token(&stored))).unwrap();
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().times(0);
    let events = Events::default();
    let credentials = with_storage(&clock, source, Arc::new(storage), &events);

    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "stored");
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert!(events.take().iter().any(|e| matches!(
        e,
        RefreshEvent::Refreshed {
            from_storage: true,
            ..
        }
    )));
}

#[test]
fn a_stale_stored_token_is_served_then_refreshed_ahead() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let stored = AccessToken::new("stored").with_lifetime(clock.now(), HOUR);
    block_on(storage.store(KEY, &CredentialRecord::new().with_access_token(&stored))).unwrap();
    clock.advance(Duration::from_secs(3500));
    let source = TestSource::new(&clock);
    let credentials = with_storage(
        &clock,
        Arc::clone(&source),
        Arc::new(storage.clone()),
        &Events::default(),
    );

    // On start: the stored token beats waiting on a fetch.
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "stored");
    assert_eq!(source.fetches(), 0);
    // Then it is stale: the next caller drives the refresh ahead.
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    assert_eq!(source.fetches(), 1);
    let record = block_on(storage.load(KEY)).unwrap().unwrap();
    assert_eq!(
        record.access_token().unwrap().secret().expose_secret(),
        "tok-1"
    );
}

#[test]
fn new_tokens_are_merged_into_the_stored_record() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let expired = AccessToken::new("expired").with_expiry(clock.now() - Duration::from_secs(1));
    let record = CredentialRecord::new()
        .with_access_token(&expired)
        .with_refresh_token(SecretString::from("rt-old"))
        .with_provider_fields(provider_fields());
    block_on(storage.store(KEY, &record)).unwrap();
    let source = TestSource::new(&clock);
    let credentials = with_storage(
        &clock,
        Arc::clone(&source),
        Arc::new(storage.clone()),
        &Events::default(),
    );

    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    let record = block_on(storage.load(KEY)).unwrap().unwrap();
    assert_eq!(
        record.access_token().unwrap().secret().expose_secret(),
        "tok-1"
    );
    assert_eq!(record.refresh_token().unwrap().expose_secret(), "rt-old");
    assert_eq!(record.provider_fields(), &provider_fields());

    // A rotation replaces the refresh token, and only that.
    source.then(Ok(AccessToken::new("tok-rotated")
        .with_lifetime(clock.now(), HOUR)
        .with_rotated_refresh_token(SecretString::from("rt-new"))));
    block_on(credentials.refresh()).unwrap();
    let record = block_on(storage.load(KEY)).unwrap().unwrap();
    assert_eq!(
        record.access_token().unwrap().secret().expose_secret(),
        "tok-rotated"
    );
    assert_eq!(record.refresh_token().unwrap().expose_secret(), "rt-new");
    assert_eq!(record.provider_fields(), &provider_fields());
}

#[test]
fn a_forced_first_refresh_fetches_but_keeps_the_record() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let stored = AccessToken::new("stored").with_lifetime(clock.now(), HOUR);
    let record = CredentialRecord::new()
        .with_access_token(&stored)
        .with_provider_fields(provider_fields());
    block_on(storage.store(KEY, &record)).unwrap();
    let source = TestSource::new(&clock);
    let credentials = with_storage(
        &clock,
        Arc::clone(&source),
        Arc::new(storage.clone()),
        &Events::default(),
    );
    let token = block_on(credentials.refresh()).unwrap();
    assert_eq!(token.secret().expose_secret(), "tok-1");
    let record = block_on(storage.load(KEY)).unwrap().unwrap();
    assert_eq!(record.provider_fields(), &provider_fields());
}

#[test]
fn an_invalidated_token_is_not_reloaded_from_storage() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let stored = AccessToken::new("stored").with_lifetime(clock.now(), HOUR);
    block_on(storage.store(KEY, &CredentialRecord::new().with_access_token(&stored))).unwrap();
    let source = TestSource::new(&clock);
    let credentials = with_storage(
        &clock,
        Arc::clone(&source),
        Arc::new(storage),
        &Events::default(),
    );
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&headers), "stored");
    assert!(credentials.invalidate_if(&headers));
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_failing_storage_never_fails_a_request() {
    let clock = FakeClock::new();
    let mut storage = MockStorage::new();
    storage.expect_load().returning(|_| {
        Err(credkit_core::Error::new(ErrorKind::Storage, "disk on fire").with_transient(true))
    });
    // The record is only out of reach: a blind store could drop its refresh token, so none is
    // attempted.
    storage.expect_store().times(0);
    let source = TestSource::new(&clock);
    let events = Events::default();
    let credentials = with_storage(&clock, Arc::clone(&source), Arc::new(storage), &events);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    let failures = events
        .take()
        .into_iter()
        .filter(|e| matches!(e, RefreshEvent::StorageFailed { error, .. } if error.kind() == ErrorKind::Storage))
        .count();
    assert_eq!(failures, 2, "the load on start and the load before storing");

    // An unreadable record (corrupt, not transient) is reported once and replaced by the next
    // store, which carries the new token: rotations are never stopped for good.
    let mut storage = MockStorage::new();
    storage
        .expect_load()
        .times(1)
        .returning(|_| Err(credkit_core::Error::new(ErrorKind::Storage, "not a record")));
    storage
        .expect_store()
        .times(1)
        .withf(|_, record| record.access_token().is_some())
        .returning(|_, _| Ok(()));
    let events = Events::default();
    let credentials = with_storage(&clock, TestSource::new(&clock), Arc::new(storage), &events);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    let failures = events
        .take()
        .into_iter()
        .filter(|e| matches!(e, RefreshEvent::StorageFailed { .. }))
        .count();
    assert_eq!(failures, 1, "the unreadable record, reported once");

    let mut storage = MockStorage::new();
    storage.expect_load().returning(|_| Ok(None));
    storage
        .expect_store()
        .times(1)
        .returning(|_, _| Err(credkit_core::Error::new(ErrorKind::Storage, "read-only")));
    let events = Events::default();
    let credentials = with_storage(&clock, TestSource::new(&clock), Arc::new(storage), &events);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    assert!(
        events
            .take()
            .iter()
            .any(|e| matches!(e, RefreshEvent::StorageFailed { .. }))
    );
}

#[test]
fn the_providers_secrets_are_stored_with_the_token_and_kept_until_they_are() {
    let clock = FakeClock::new();
    let memory = MemoryStorage::new();
    block_on(memory.store(
        KEY,
        &CredentialRecord::new().with_provider_fields(provider_fields()),
    ))
    .unwrap();
    // The record is out of reach for the load on start and the load before the first store.
    // (MemoryStorage answers at once: its futures are ready when first polled.)
    let mut storage = MockStorage::new();
    let mut seq = Sequence::new();
    storage
        .expect_load()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_| {
            Err(credkit_core::Error::new(ErrorKind::Storage, "away").with_transient(true))
        });
    storage.expect_load().returning({
        let memory = memory.clone();
        move |key| memory.load(key).now_or_never().unwrap()
    });
    storage.expect_store().returning({
        let memory = memory.clone();
        move |key, record| memory.store(key, record).now_or_never().unwrap()
    });
    let source = TestSource::new(&clock);
    source.then(Ok(AccessToken::new("at-1")
        .with_lifetime(clock.now(), HOUR)
        .with_provider_secret("rapt_token", SecretString::from("rapt-1"))));
    let credentials = with_storage(
        &clock,
        Arc::clone(&source),
        Arc::new(storage),
        &Events::default(),
    );

    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "at-1");
    // The secret is for storage, not for the cache.
    let cached = credentials.token().unwrap();
    assert_eq!(cached.provider_secrets().count(), 0);
    assert!(
        block_on(memory.load(KEY))
            .unwrap()
            .unwrap()
            .access_token()
            .is_none()
    );

    // The next refresh finds the record again: the secret kept for it is stored with the new
    // token, and the provider's fields stay.
    block_on(credentials.refresh()).unwrap();
    let record = block_on(memory.load(KEY)).unwrap().unwrap();
    assert_eq!(
        record.access_token().unwrap().secret().expose_secret(),
        "tok-2"
    );
    assert_eq!(
        record
            .provider_secret("rapt_token")
            .map(ExposeSecret::expose_secret),
        Some("rapt-1")
    );
    assert_eq!(record.provider_fields(), &provider_fields());
}

#[test]
fn a_rotation_left_pending_never_overwrites_a_newer_one() {
    let clock = FakeClock::new();
    let memory = MemoryStorage::new();
    let mut storage = MockStorage::new();
    let mut seq = Sequence::new();
    storage.expect_load().returning(|_| Ok(None));
    // The first store fails: its rotation is kept pending.
    storage
        .expect_store()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Err(credkit_core::Error::new(ErrorKind::Storage, "away").with_transient(true))
        });
    storage.expect_store().returning({
        let memory = memory.clone();
        move |key, record| memory.store(key, record).now_or_never().unwrap()
    });
    let source = TestSource::new(&clock);
    for n in 1..=2 {
        source.then(Ok(AccessToken::new(format!("at-{n}"))
            .with_lifetime(clock.now(), HOUR)
            .with_rotated_refresh_token(SecretString::from(format!("rt-{n}")))));
    }
    source.then(Ok(AccessToken::new("at-3").with_lifetime(clock.now(), HOUR)));
    let credentials = with_storage(
        &clock,
        Arc::clone(&source),
        Arc::new(storage),
        &Events::default(),
    );

    let stored_refresh = || {
        block_on(memory.load(KEY)).unwrap().and_then(|record| {
            record
                .refresh_token()
                .map(|rt| rt.expose_secret().to_owned())
        })
    };
    block_on(credentials.headers()).unwrap();
    assert_eq!(stored_refresh(), None);
    block_on(credentials.refresh()).unwrap();
    assert_eq!(stored_refresh().as_deref(), Some("rt-2"));
    // A refresh without a rotation stores the newest refresh token, not the older one that was
    // pending when the newer one came.
    block_on(credentials.refresh()).unwrap();
    assert_eq!(stored_refresh().as_deref(), Some("rt-2"));
}
