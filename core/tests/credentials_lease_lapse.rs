//! A refresh whose lease lapsed before it stored (the storage says so through
//! `Lease::is_held`): when another holder stored a newer rotation meanwhile, the stored record
//! wins; when nobody did, this process's own rotation stands, even if its store failed.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, Error, ErrorKind, Lease, LeaseHandle,
    LeaseOptions, Result, Storage, TokenSource,
};
use credkit_testing::FakeClock;
use futures::executor::block_on;
use secrecy::{ExposeSecret, SecretString};

const HOUR: Duration = Duration::from_secs(3600);

/// A lease that has lapsed by the time anyone asks.
#[derive(Debug)]
struct Lapsed;

#[async_trait]
impl LeaseHandle for Lapsed {
    async fn release(self: Box<Self>) -> Result<()> {
        Ok(())
    }
    fn is_held(&self) -> bool {
        false
    }
}

/// One record; stores fail (as fenced off, or as out of reach) when `refuse` is set.
#[derive(Debug, Default)]
struct Shared {
    record: Mutex<Option<CredentialRecord>>,
    refuse: Mutex<Option<Error>>,
}

#[async_trait]
impl Storage for Shared {
    async fn load(&self, _key: &str) -> Result<Option<CredentialRecord>> {
        Ok(self.record.lock().unwrap().clone())
    }
    async fn store(&self, _key: &str, record: &CredentialRecord) -> Result<()> {
        if let Some(error) = self.refuse.lock().unwrap().clone() {
            return Err(error);
        }
        *self.record.lock().unwrap() = Some(record.clone());
        Ok(())
    }
    async fn remove(&self, _key: &str) -> Result<()> {
        *self.record.lock().unwrap() = None;
        Ok(())
    }
    async fn lease(&self, _key: &str, _options: &LeaseOptions) -> Result<Option<Lease>> {
        Ok(Some(Lease::new(Lapsed)))
    }
}

/// Its first fetch returns `at-1` with the rotation `rt-1` (while it runs, another holder
/// stores `rt-other` if asked); later ones `at-2` without a rotation. Remembers the refresh
/// tokens it adopted.
#[derive(Debug)]
struct Source {
    clock: FakeClock,
    storage: Arc<Shared>,
    other_holder_stores: bool,
    fetches: AtomicUsize,
    adopted: Mutex<Vec<String>>,
}

#[async_trait]
impl TokenSource for Source {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let first = self.fetches.fetch_add(1, Ordering::SeqCst) == 0;
        if !first {
            // Later fetches rotate nothing: a store then carries what the record holds.
            return Ok(AccessToken::new("at-2").with_lifetime(self.clock.now(), HOUR));
        }
        if self.other_holder_stores {
            let token = AccessToken::new("at-other").with_lifetime(self.clock.now(), HOUR);
            *self.storage.record.lock().unwrap() = Some(
                CredentialRecord::new()
                    .with_access_token(&token)
                    .with_refresh_token(SecretString::from("rt-other")),
            );
        }
        Ok(AccessToken::new("at-1")
            .with_lifetime(self.clock.now(), HOUR)
            .with_rotated_refresh_token(SecretString::from("rt-1")))
    }
    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(rt) = record.refresh_token() {
            self.adopted
                .lock()
                .unwrap()
                .push(rt.expose_secret().to_owned());
        }
    }
}

fn setup(other_holder_stores: bool, refuse: Error) -> (Credentials, Arc<Source>, Arc<Shared>) {
    let clock = FakeClock::new();
    let storage = Arc::new(Shared::default());
    *storage.record.lock().unwrap() =
        Some(CredentialRecord::new().with_refresh_token(SecretString::from("rt-0")));
    *storage.refuse.lock().unwrap() = Some(refuse);
    let source = Arc::new(Source {
        clock: clock.clone(),
        storage: Arc::clone(&storage),
        other_holder_stores,
        fetches: AtomicUsize::new(0),
        adopted: Mutex::new(Vec::new()),
    });
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock)
        .with_storage(Arc::clone(&storage), "k")
        .build()
        .unwrap();
    (credentials, source, storage)
}

#[test]
fn a_newer_rotation_stored_by_another_holder_wins() {
    let fenced = Error::new(ErrorKind::Storage, "fenced off");
    let (credentials, source, storage) = setup(true, fenced);
    let token = block_on(credentials.access_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "at-other");
    assert_eq!(source.adopted.lock().unwrap().last().unwrap(), "rt-other");
    // Its own rotation is not kept pending: the next store carries the adopted one.
    *storage.refuse.lock().unwrap() = None;
    block_on(credentials.refresh()).unwrap();
    let stored = storage.record.lock().unwrap().clone().unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose_secret(), "rt-other");
}

#[test]
fn with_no_newer_rotation_stored_its_own_rotation_stands() {
    let away = Error::new(ErrorKind::Storage, "out of reach").with_transient(true);
    let (credentials, source, storage) = setup(false, away);
    let token = block_on(credentials.access_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "at-1");
    // rt-0 was adopted on the loads before the fetch, never after it.
    assert!(source.adopted.lock().unwrap().iter().all(|rt| rt == "rt-0"));
    // The rotation the failed store could not write is carried by the next store.
    *storage.refuse.lock().unwrap() = None;
    block_on(credentials.refresh()).unwrap();
    let stored = storage.record.lock().unwrap().clone().unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose_secret(), "rt-1");
}
