//! The warning operators get when a store under a lease lands over a record that went
//! backwards (a failover to a replica that lost the last writes).
//!
//! Alone in its test binary: tracing caches, per call site, whether any subscriber listens,
//! and another test's thread passing the same call site while this one installs its
//! subscriber could cache "nobody" for it.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use credkit_core::{CredentialRecord, LeaseOptions, Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use credkit_testing::capture_logs;
use secrecy::SecretString;
use support::RedisServer;

const KEY: &str = "failover:user";

fn record(refresh: &str) -> CredentialRecord {
    CredentialRecord::new().with_refresh_token(SecretString::from(refresh.to_owned()))
}

/// The warnings logged on this thread while `work` runs on a current-thread runtime (whose
/// tasks, the connection's included, run on this thread too).
fn warnings(work: impl Future<Output = ()>) -> Vec<String> {
    let ((), lines) = capture_logs(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work);
    });
    lines
        .into_iter()
        .filter(|line| line.level == tracing::Level::WARN)
        .map(|line| line.text)
        .collect()
}

#[test]
fn a_store_over_a_record_that_went_backwards_is_logged_for_operators() {
    support::require_redis!();
    let server = RedisServer::start();
    let logged = warnings(async {
        let storage = RedisStorage::new(&server.url()).unwrap();
        let name = storage.record_key(KEY);
        storage.store(KEY, &record("rt-1")).await.unwrap();
        let replica = server.snapshot(&name);
        storage.store(KEY, &record("rt-2")).await.unwrap();
        let wait = LeaseOptions::new(Duration::from_secs(5), SystemClock);
        let lease = storage.lease(KEY, &wait).await.unwrap().unwrap();
        storage.store(KEY, &record("rt-3")).await.unwrap();
        server.restore(&name, &replica);
        storage.store(KEY, &record("rt-4")).await.unwrap();
        lease.release().await.unwrap();
    });
    // One warning: the usual stores before the failover logged none.
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains("older than the one this lease began on"),
        "{logged:?}"
    );
}
