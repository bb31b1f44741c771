//! A database out of reach: refused connections and a server that never answers are transient
//! storage errors, within the timeout, for every call; nothing is left waiting.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use credkit_core::{CredentialRecord, ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_postgres::PostgresStorage;

fn storage(url: &str) -> PostgresStorage {
    PostgresStorage::builder(url)
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

async fn every_call_fails_transiently(storage: &PostgresStorage) {
    let record = CredentialRecord::new();
    let wait = LeaseOptions::new(Duration::from_secs(1), SystemClock);
    let errors = [
        storage.migrate().await.unwrap_err(),
        storage.load("k").await.map(drop).unwrap_err(),
        storage.store("k", &record).await.unwrap_err(),
        storage.remove("k").await.unwrap_err(),
        storage.list("", None, 10).await.map(drop).unwrap_err(),
        storage.lease("k", &wait).await.map(drop).unwrap_err(),
        storage.count("").await.map(drop).unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert!(err.is_transient(), "{err:?}");
        assert!(err.to_string().contains("in Postgres failed"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_transient_errors() {
    every_call_fails_transiently(&storage(&support::refusing_url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_transient_error_within_the_timeout() {
    let (_silent, url) = support::silent_server();
    every_call_fails_transiently(&storage(&url)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_that_never_answers_fails_calls_on_a_single_threaded_runtime_too() {
    let (_silent, url) = support::silent_server();
    let err = storage(&url).load("k").await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}
