//! Redis stopped and restarted under a running process: a fresh token needs no Redis; an
//! expired one is refreshed locally and reported (the default) or fails (fail closed); once
//! Redis is back, the connection comes back by itself and refreshes run under the lease again.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_core::LeasePolicy;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::{AccessToken, CredentialRecord, Credentials, ErrorKind, RefreshEvent, Storage};
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_storage_redis::RedisStorage;
use credkit_testing::{FAKE_CLOCK_START, FAKE_EXPIRES_IN, FakeClock, FakeTokenServer};
use secrecy::SecretString;
use support::RedisServer;

const KEY: &str = "degrade:user";

fn credentials(
    server: &FakeTokenServer,
    storage: &RedisStorage,
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

async fn seed(storage: &RedisStorage) {
    let fresh = AccessToken::new("at-seed")
        .with_expiry(FAKE_CLOCK_START + Duration::from_secs(FAKE_EXPIRES_IN));
    let record = CredentialRecord::new()
        .with_access_token(&fresh)
        .with_refresh_token(SecretString::from("rt-0"));
    storage.store(KEY, &record).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_process_keeps_serving_without_redis_and_reports_it() {
    support::require_redis!();
    let mut redis = RedisServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    let clock = FakeClock::new();
    let storage = RedisStorage::builder(redis.url())
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    seed(&storage).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let credentials = credentials(&server, &storage, &clock, false, &events);
    assert!(credentials.access_token().await.is_ok());

    redis.stop();
    // A fresh token needs no Redis.
    assert!(credentials.access_token().await.is_ok());
    assert_eq!(server.request_count(), 0);
    // An expired one is refreshed locally, and that is reported.
    clock.advance(Duration::from_secs(FAKE_EXPIRES_IN + 1));
    assert!(credentials.access_token().await.is_ok());
    assert_eq!(server.request_count(), 1);
    assert_eq!(*events.lock().unwrap(), [true]);

    // Redis comes back (empty: no persistence); the next refresh runs under the lease and
    // stores again, on a connection made by itself.
    redis.restart();
    clock.advance(Duration::from_secs(FAKE_EXPIRES_IN + 1));
    assert!(credentials.access_token().await.is_ok());
    assert_eq!(
        *events.lock().unwrap(),
        [true],
        "no lease failure once Redis is back"
    );
    assert!(storage.load(KEY).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_fails_while_redis_is_away_and_recovers_when_it_is_back() {
    support::require_redis!();
    let mut redis = RedisServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    let clock = FakeClock::new();
    let storage = RedisStorage::builder(redis.url())
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    seed(&storage).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let credentials = credentials(&server, &storage, &clock, true, &events);
    assert!(credentials.access_token().await.is_ok());

    redis.stop();
    clock.advance(Duration::from_secs(FAKE_EXPIRES_IN + 1));
    let err = credentials.access_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.is_transient());
    assert_eq!(server.request_count(), 0, "no refresh outside the lease");
    assert_eq!(*events.lock().unwrap(), [false]);

    redis.restart();
    // Past the minimum retry interval, the next caller refreshes under the lease.
    clock.advance(Duration::from_secs(60));
    let token = credentials.access_token().await.unwrap();
    assert!(token.expiry().unwrap() > FAKE_CLOCK_START);
    assert_eq!(server.request_count(), 1);
    assert!(storage.load(KEY).await.unwrap().is_some());
}
