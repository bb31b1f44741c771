//! The warning operators get when a store under a lease lands over a record that went
//! backwards (a failover to a replica that lost the last writes).
//!
//! Alone in its test binary: tracing caches, per call site, whether any subscriber listens,
//! and another test's thread passing the same call site while this one installs its
//! subscriber could cache "nobody" for it.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::fmt::{Debug, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::{CredentialRecord, LeaseOptions, Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use secrecy::SecretString;
use support::RedisServer;

const KEY: &str = "failover:user";

fn record(refresh: &str) -> CredentialRecord {
    CredentialRecord::new().with_refresh_token(SecretString::from(refresh.to_owned()))
}

/// Keeps the message of every warning logged on the thread it is the default on.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message<'a>(&'a mut String);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
                if field.name() == "message" {
                    let _ = write!(self.0, "{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            self.0.lock().unwrap().push(message);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_over_a_record_that_went_backwards_is_logged_for_operators() {
    let warnings = Warnings::default();
    let _default = tracing::subscriber::set_default(warnings.clone());
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    let name = storage.record_key(KEY);
    storage.store(KEY, &record("rt-1")).await.unwrap();
    let replica = server.snapshot(&name);
    storage.store(KEY, &record("rt-2")).await.unwrap();
    let wait = LeaseOptions::new(Duration::from_secs(5), SystemClock);
    let lease = storage.lease(KEY, &wait).await.unwrap().unwrap();
    storage.store(KEY, &record("rt-3")).await.unwrap();
    assert!(warnings.0.lock().unwrap().is_empty(), "a store as usual");
    server.restore(&name, &replica);
    storage.store(KEY, &record("rt-4")).await.unwrap();
    let logged = warnings.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains("older than the one this lease began on"),
        "{logged:?}"
    );
    lease.release().await.unwrap();
}
