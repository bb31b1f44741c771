//! The database restarted under a running process: a fresh token needs no database; an
//! expired one is refreshed locally and reported (the default) or fails (fail closed), and the
//! store's own calls fail with transient errors; once Postgres is back, the pool reconnects by
//! itself and refreshes store under the lease again. Nothing panics.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::{
    AccessToken, CredentialRecord, Credentials, ErrorKind, LeaseOptions, LeasePolicy, RefreshEvent,
    Storage, SystemClock,
};
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_storage_postgres::PostgresStorage;
use credkit_testing::{FAKE_CLOCK_START, FAKE_EXPIRES_IN, FakeClock, FakeTokenServer};
use secrecy::{ExposeSecret, SecretString};
use support::PgServer;

const KEY: &str = "restart:user";

fn credentials(
    server: &FakeTokenServer,
    storage: &PostgresStorage,
    clock: &FakeClock,
    fail_closed: bool,
    events: &Arc<Mutex<Vec<bool>>>,
) -> Credentials {
    let user = UserCredentials::builder()
        .with_refresh_token("rt-0")
        .with_token_uri(server.token_url())
        .with_client_id("client")
        .with_client_secret("secret")
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let events = Arc::clone(events);
    Credentials::builder(user)
        .with_clock(clock.clone())
        .with_storage(storage.clone(), KEY)
        .with_lease_policy(if fail_closed {
            LeasePolicy::strict()
        } else {
            LeasePolicy::default()
        })
        .on_refresh(move |event| {
            if let RefreshEvent::LeaseUnavailable {
                refreshed_locally, ..
            } = event
            {
                events.lock().unwrap().push(*refreshed_locally);
            }
        })
        .build()
        .unwrap()
}

fn storage(server: &PgServer) -> PostgresStorage {
    PostgresStorage::builder(server.url())
        .with_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn seed(storage: &PostgresStorage) {
    let fresh = AccessToken::new("at-seed")
        .with_expiry(FAKE_CLOCK_START + Duration::from_secs(FAKE_EXPIRES_IN));
    let record = CredentialRecord::new()
        .with_access_token(&fresh)
        .with_refresh_token(SecretString::from("rt-0"));
    storage.store(KEY, &record).await.unwrap();
}

/// Every call of the store itself fails, transiently, while the database is away.
async fn every_call_fails_transiently(storage: &PostgresStorage) {
    let record = CredentialRecord::new();
    let now = LeaseOptions::new(Duration::ZERO, SystemClock);
    let errors = [
        storage.load(KEY).await.map(drop).unwrap_err(),
        storage.store(KEY, &record).await.unwrap_err(),
        storage.remove("restart:other").await.unwrap_err(),
        storage.list("", None, 10).await.map(drop).unwrap_err(),
        storage.lease(KEY, &now).await.map(drop).unwrap_err(),
        storage.count("").await.map(drop).unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert!(err.is_transient(), "{err:?}");
    }
}

async fn stored_access(storage: &PostgresStorage) -> String {
    let record = storage.load(KEY).await.unwrap().unwrap();
    record
        .access_token()
        .unwrap()
        .secret()
        .expose_secret()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_process_keeps_serving_through_a_restart_and_stores_again_after_it() {
    support::require_postgres!();
    let mut postgres = PgServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    let clock = FakeClock::new();
    let storage = storage(&postgres);
    seed(&storage).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let credentials = credentials(&server, &storage, &clock, false, &events);
    assert!(credentials.access_token().await.is_ok());

    postgres.stop();
    // A fresh token needs no database.
    assert!(credentials.access_token().await.is_ok());
    assert_eq!(server.request_count(), 0);
    every_call_fails_transiently(&storage).await;
    // An expired one is refreshed locally, and that is reported.
    clock.advance(Duration::from_secs(FAKE_EXPIRES_IN + 1));
    let local = credentials.access_token().await.unwrap();
    assert_eq!(server.request_count(), 1);
    assert_eq!(*events.lock().unwrap(), [true]);

    // Postgres comes back with its data; the next refresh runs under the lease and stores
    // again, on connections the pool makes by itself.
    postgres.restart();
    clock.advance(Duration::from_secs(FAKE_EXPIRES_IN + 1));
    let after = credentials.access_token().await.unwrap();
    assert_eq!(server.request_count(), 2);
    assert_eq!(
        *events.lock().unwrap(),
        [true],
        "no lease failure once Postgres is back"
    );
    assert_ne!(
        after.secret().expose_secret(),
        local.secret().expose_secret()
    );
    assert_eq!(
        stored_access(&storage).await,
        after.secret().expose_secret()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_fails_while_postgres_is_away_and_recovers_when_it_is_back() {
    support::require_postgres!();
    let mut postgres = PgServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    let clock = FakeClock::new();
    let storage = storage(&postgres);
    seed(&storage).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let credentials = credentials(&server, &storage, &clock, true, &events);
    assert!(credentials.access_token().await.is_ok());

    postgres.stop();
    clock.advance(Duration::from_secs(FAKE_EXPIRES_IN + 1));
    let err = credentials.access_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.is_transient());
    assert_eq!(server.request_count(), 0, "no refresh outside the lease");
    assert_eq!(*events.lock().unwrap(), [false]);

    postgres.restart();
    // Past the minimum retry interval, the next caller refreshes under the lease.
    clock.advance(Duration::from_secs(60));
    let token = credentials.access_token().await.unwrap();
    assert!(token.expiry().unwrap() > FAKE_CLOCK_START);
    assert_eq!(server.request_count(), 1);
    assert_eq!(
        stored_access(&storage).await,
        token.secret().expose_secret()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_calls_costs_no_failed_call() {
    support::require_postgres!();
    let mut postgres = PgServer::start();
    let storage = storage(&postgres);
    seed(&storage).await;
    // The pool holds connections to the old server; the restart breaks them all.
    postgres.restart();
    for _ in 0..3 {
        assert_eq!(stored_access(&storage).await, "at-seed");
    }
    storage.store(KEY, &CredentialRecord::new()).await.unwrap();
}
