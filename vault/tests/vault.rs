//! The vault's behaviour on the fake clock: cold users read once, the consent recheck, users
//! evicted with a rotation kept, events, no secret shown.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, ErrorKind, Lease, LeaseOptions, MemoryStorage,
    RefreshEvent, Result, Storage,
};
use credkit_testing::{CountingStorage, FakeClock, FakeTokenEndpoint, Reply};
use credkit_vault::{Grant, Refusal, Vault, VaultEvent};
use futures::executor::block_on;
use secrecy::ExposeSecret;
use support::{Events, client, token_requests};

const HOUR: Duration = Duration::from_secs(3600);

fn vault_on(
    storage: &Arc<CountingStorage>,
    endpoint: &FakeTokenEndpoint,
    clock: &FakeClock,
    events: &Events,
) -> Vault {
    Vault::builder(client(endpoint), Arc::clone(storage))
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .with_credentials(credkit_core::CredentialsBuilder::without_retries)
        .on_event(events.observer())
        .build()
        .unwrap()
}

fn token(clock: &FakeClock, secret: &str) -> AccessToken {
    AccessToken::new(secret).with_lifetime(clock.now(), HOUR)
}

#[test]
fn a_cold_user_costs_one_read_and_a_refresh_one_more_under_the_lease() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("at-refreshed"));
    let storage = Arc::new(CountingStorage::default());
    let events = Events::default();
    let vault = vault_on(&storage, &endpoint, &clock, &events);
    block_on(vault.insert(
        "cold",
        Grant::new("rt-cold".to_owned()).with_access_token(token(&clock, "at-granted")),
    ))
    .unwrap();
    storage.reset();

    let headers = block_on(vault.headers("cold")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-granted");
    assert_eq!(storage.loads(), 1, "one read for a cold user");
    for _ in 0..10 {
        block_on(vault.headers("cold")).unwrap();
    }
    assert_eq!(storage.loads(), 1, "none for a hot one");
    assert_eq!(token_requests(&endpoint), 0);

    clock.advance(HOUR);
    let headers = block_on(vault.headers("cold")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-refreshed");
    assert_eq!(token_requests(&endpoint), 1);
    assert_eq!(
        storage.loads(),
        2,
        "the refresh reads the record once more, under the lease"
    );
    let sent = endpoint.last_request().unwrap();
    assert_eq!(sent.form_value("refresh_token"), Some("rt-cold"));
    assert_eq!(sent.form_value("client_id"), Some("client-id"));
    let refreshed = events.all().iter().any(|event| {
        matches!(event, VaultEvent::Refresh { user, event: RefreshEvent::Refreshed { .. }, .. } if &**user == "cold")
    });
    assert!(
        refreshed,
        "each user's refresh events reach the observer, with the user"
    );
}

#[test]
fn a_process_notices_a_new_grant_after_the_consent_recheck() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::oauth_error(400, "invalid_grant", None));
    endpoint.push_reply(Reply::token("at-after-consent"));
    let storage = Arc::new(CountingStorage::default());
    let events = Events::default();
    let here = vault_on(&storage, &endpoint, &clock, &events);
    let there = vault_on(&storage, &endpoint, &clock, &Events::default());
    block_on(here.insert("u", Grant::new("rt-old".to_owned()))).unwrap();
    let err = block_on(here.headers("u")).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::ConsentNeeded));
    assert_eq!(events.consent_needed(), ["u"]);

    block_on(there.insert("u", Grant::new("rt-new".to_owned()))).unwrap();
    storage.reset();
    // Within the recheck interval this process refuses without reading the storage...
    for _ in 0..20 {
        let err = block_on(here.headers("u")).unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::ConsentNeeded));
    }
    assert!(
        storage.loads() <= 1,
        "at most the one look that set the interval"
    );
    assert_eq!(token_requests(&endpoint), 1);
    // ...then looks once, and uses the new grant.
    clock.advance(credkit_vault::DEFAULT_CONSENT_RECHECK);
    let headers = block_on(here.headers("u")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-after-consent");
    assert_eq!(
        endpoint.last_request().unwrap().form_value("refresh_token"),
        Some("rt-new")
    );
    assert_eq!(events.consent_needed(), ["u"], "reported once");
}

#[test]
fn a_user_with_an_unstored_rotation_is_never_evicted_until_stored() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::rotation("at-rotated", "rt-rotated"));
    endpoint.push_reply(Reply::token("at-other"));
    let storage = Arc::new(CountingStorage::default());
    let events = Events::default();
    let vault = Vault::builder(client(&endpoint), Arc::clone(&storage))
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .with_capacity(2)
        .with_credentials(credkit_core::CredentialsBuilder::without_retries)
        .on_event(events.observer())
        .build()
        .unwrap();
    let others: Vec<String> = (0..40).map(|i| format!("other-{i}")).collect();
    block_on(vault.insert("rotating", Grant::new("rt-rotating".to_owned()))).unwrap();
    for user in &others {
        block_on(vault.insert(user, Grant::new(format!("rt-{user}")))).unwrap();
    }
    storage.refuse_stores(true);
    let headers = block_on(vault.headers("rotating")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-rotated");
    assert_eq!(vault.users_in_memory(), 1);
    // Other users crowd a cache of two, many times over, each used twice in a row (so that
    // each is worth keeping).
    let before = storage.loads();
    for _ in 0..3 {
        for user in &others {
            block_on(vault.headers(user)).unwrap();
            block_on(vault.headers(user)).unwrap();
        }
    }
    assert!(vault.users_in_memory() <= 3, "the cache stays bounded");
    assert!(
        storage.loads() - before > others.len(),
        "users were evicted and loaded again"
    );
    // The rotating user was pinned: its next call needs no read, and the rotation is there.
    storage.refuse_stores(false);
    let loads = storage.loads();
    let credentials = block_on(vault.credentials("rotating")).unwrap();
    assert_eq!(storage.loads(), loads, "not loaded again");
    assert!(credentials.has_unstored_rotation());
    clock.advance(HOUR);
    block_on(vault.headers("rotating")).unwrap();
    assert!(!credentials.has_unstored_rotation());
    let stored = block_on(storage.memory().load(&vault.storage_key("rotating")))
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.refresh_token().unwrap().expose_secret(),
        "rt-rotated"
    );
    // Stored: no longer pinned, it can go like any other.
    for _ in 0..3 {
        for user in &others {
            block_on(vault.headers(user)).unwrap();
            block_on(vault.headers(user)).unwrap();
        }
    }
    assert!(vault.users_in_memory() <= 3);
    let loads = storage.loads();
    block_on(vault.headers("rotating")).unwrap();
    assert_eq!(storage.loads(), loads + 1, "evicted at last");
}

#[test]
fn nothing_secret_is_shown_and_a_panicking_observer_is_contained() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("at-secret"));
    let storage = MemoryStorage::new();
    let vault = Vault::builder(client(&endpoint), storage.clone())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .on_event(|_: &VaultEvent| panic!("observer bug"))
        .build()
        .unwrap();
    let grant = Grant::new("rt-secret".to_owned());
    assert!(!format!("{grant:?}").contains("rt-secret"));
    block_on(vault.insert("u", grant)).unwrap();
    let headers = block_on(vault.headers("u")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-secret");
    for shown in [
        format!("{vault:?}"),
        format!("{:?}", block_on(vault.status("u")).unwrap()),
        format!("{:?}", block_on(vault.credentials("u")).unwrap()),
    ] {
        assert!(!shown.contains("secret"), "{shown}");
    }
}

#[test]
fn a_grant_from_user_credentials_keeps_its_access_token() {
    let clock = FakeClock::new();
    let credentials = credkit_refresh_token::UserCredentials::builder()
        .with_refresh_token("rt-login")
        .with_token("at-login")
        .with_expiry(clock.now() + HOUR)
        .build()
        .unwrap();
    let grant = Grant::try_from(&credentials).unwrap();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    let vault = Vault::builder(client(&endpoint), MemoryStorage::new())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    block_on(vault.insert("u", grant)).unwrap();
    let token = block_on(vault.access_token("u")).unwrap();
    assert_eq!(token.secret().expose_secret(), "at-login");
    assert_eq!(token_requests(&endpoint), 0);
    let without = credkit_refresh_token::UserCredentials::builder()
        .with_token("at-only")
        .build()
        .unwrap();
    assert!(Grant::try_from(&without).is_err());
    let granted = block_on(vault.status("u")).unwrap().granted_at.unwrap();
    assert_eq!(granted.unix_timestamp(), clock.now().unix_timestamp());
}

/// A storage whose loads panic while `panicking` is set.
#[derive(Debug, Default)]
struct Panicking {
    inner: MemoryStorage,
    panicking: AtomicBool,
}

#[async_trait]
impl Storage for Panicking {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        assert!(!self.panicking.load(Ordering::SeqCst), "storage bug");
        self.inner.load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.inner.store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }
    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        self.inner.lease(key, options).await
    }
}

#[test]
fn a_panicking_storage_is_an_error_and_the_next_call_recovers() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    let storage = Arc::new(Panicking::default());
    let vault = Vault::builder(client(&endpoint), Arc::clone(&storage))
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    block_on(vault.insert(
        "u",
        Grant::new("rt".to_owned()).with_access_token(token(&clock, "at-kept")),
    ))
    .unwrap();
    vault.forget("u");
    storage.panicking.store(true, Ordering::SeqCst);
    for (what, call) in [
        ("headers", block_on(vault.headers("u")).map(drop)),
        ("status", block_on(vault.status("u")).map(drop)),
        ("reseal", block_on(vault.reseal("u")).map(drop)),
    ] {
        let err = call.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.to_string().contains("panicked"), "{what}: {err}");
    }
    storage.panicking.store(false, Ordering::SeqCst);
    let headers = block_on(vault.headers("u")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-kept");
    assert!(block_on(vault.reseal("u")).unwrap());
}

#[test]
fn another_process_learns_of_a_refused_grant_from_the_record_and_sends_nothing() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::oauth_error(400, "invalid_grant", None));
    endpoint.push_reply(Reply::token("at-never"));
    let storage = Arc::new(CountingStorage::default());
    let (events_a, events_b) = (Events::default(), Events::default());
    let a = vault_on(&storage, &endpoint, &clock, &events_a);
    let b = vault_on(&storage, &endpoint, &clock, &events_b);
    block_on(a.insert(
        "u",
        Grant::new("rt-u".to_owned()).with_access_token(token(&clock, "at-u")),
    ))
    .unwrap();
    // Both processes hold the user, with a fresh token.
    block_on(a.headers("u")).unwrap();
    block_on(b.headers("u")).unwrap();
    clock.advance(HOUR);
    // A refreshes first and is refused; B, refreshing after, reads the mark under the lease.
    assert_eq!(
        Refusal::of(&block_on(a.headers("u")).unwrap_err()),
        Some(Refusal::ConsentNeeded)
    );
    assert_eq!(
        Refusal::of(&block_on(b.headers("u")).unwrap_err()),
        Some(Refusal::ConsentNeeded)
    );
    assert_eq!(token_requests(&endpoint), 1, "B sent nothing");
    assert_eq!(events_a.consent_needed(), ["u"]);
    assert!(events_b.consent_needed().is_empty());
}

#[test]
fn a_transient_failure_is_not_a_refused_grant() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::oauth_error(503, "temporarily_unavailable", None));
    endpoint.push_reply(Reply::token("at-later"));
    let storage = Arc::new(CountingStorage::default());
    let events = Events::default();
    let vault = vault_on(&storage, &endpoint, &clock, &events);
    block_on(vault.insert("u", Grant::new("rt-u".to_owned()))).unwrap();
    let err = block_on(vault.headers("u")).unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(Refusal::of(&err), None);
    assert!(!block_on(vault.status("u")).unwrap().consent_needed());
    clock.advance(Duration::from_secs(60));
    let headers = block_on(vault.headers("u")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-later");
    assert!(events.consent_needed().is_empty());
}

/// Memory without a lease: a refresh goes ahead without reading the record again.
#[derive(Debug, Default)]
struct NoLease(MemoryStorage);

#[async_trait]
impl Storage for NoLease {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.0.load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.0.store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.0.remove(key).await
    }
}

#[test]
fn a_refused_old_grant_does_not_mark_a_new_one() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::oauth_error(400, "invalid_grant", None));
    endpoint.push_reply(Reply::token("at-new-grant"));
    let storage = Arc::new(NoLease::default());
    let events = Events::default();
    let vault = Vault::builder(client(&endpoint), Arc::clone(&storage))
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .on_event(events.observer())
        .build()
        .unwrap();
    block_on(vault.insert(
        "u",
        Grant::new("rt-old".to_owned()).with_access_token(token(&clock, "at-old")),
    ))
    .unwrap();
    block_on(vault.headers("u")).unwrap();
    // Another process stores the user's new consent; this one still holds the old grant.
    let other = Vault::builder(client(&endpoint), Arc::clone(&storage))
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    block_on(other.insert("u", Grant::new("rt-new".to_owned()))).unwrap();
    clock.advance(HOUR);
    // The old grant is refused: the new one is not marked, nobody is told, and the next call
    // uses the new grant.
    let err = block_on(vault.headers("u")).unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert!(!block_on(vault.status("u")).unwrap().consent_needed());
    assert!(events.consent_needed().is_empty());
    let headers = block_on(vault.headers("u")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-new-grant");
    assert_eq!(
        endpoint.last_request().unwrap().form_value("refresh_token"),
        Some("rt-new")
    );
}

#[test]
fn a_grant_is_compared_by_when_it_was_given() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::oauth_error(400, "invalid_grant", None));
    let storage = Arc::new(CountingStorage::default());
    let vault = vault_on(&storage, &endpoint, &clock, &Events::default());
    let now = clock.now();
    block_on(vault.insert("u", Grant::new("rt-1".to_owned()).with_granted_at(now))).unwrap();
    // The same time is not newer.
    block_on(vault.insert("u", Grant::new("rt-2".to_owned()).with_granted_at(now))).unwrap();
    // A grant the server refused is no grant to keep: an older consent replaces it.
    let _ = block_on(vault.headers("u"));
    assert!(block_on(vault.status("u")).unwrap().consent_needed());
    let earlier = now - Duration::from_secs(60);
    block_on(vault.insert("u", Grant::new("rt-3".to_owned()).with_granted_at(earlier))).unwrap();
    let kept = block_on(storage.memory().load(&vault.storage_key("u")))
        .unwrap()
        .unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-3");
}

#[test]
fn names_lengths_and_what_is_shown() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("at"));
    let vault = Vault::builder(client(&endpoint), MemoryStorage::new())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .with_quota_project("billed-project")
        .build()
        .unwrap();
    let longest = "x".repeat(512);
    block_on(vault.insert(&longest, Grant::new("rt".to_owned()))).unwrap();
    let headers = block_on(vault.headers(&longest)).unwrap();
    assert_eq!(headers["x-goog-user-project"], "billed-project");
    // A token from the stored record (no refresh) is billed to the project too.
    block_on(vault.insert(
        "stored",
        Grant::new("rt".to_owned()).with_access_token(token(&clock, "at-stored")),
    ))
    .unwrap();
    let headers = block_on(vault.headers("stored")).unwrap();
    assert_eq!(headers["authorization"], "Bearer at-stored");
    assert_eq!(headers["x-goog-user-project"], "billed-project");
    assert_eq!(vault.users_in_memory(), 2);
    assert!(format!("{vault:?}").starts_with("Vault {"));
    let credentials = block_on(vault.credentials(&longest)).unwrap();
    assert_eq!(credentials.source_name(), "vault user (refresh token)");
    assert!(format!("{:?}", Grant::new("rt".to_owned())).starts_with("Grant {"));
    assert_eq!(
        Refusal::ConsentNeeded.to_string(),
        "the user's consent is needed"
    );
    assert_eq!(
        Refusal::UnknownUser.to_string(),
        "no grant is stored for the user"
    );
    assert_eq!(
        Refusal::NewerGrant.to_string(),
        "a newer grant is stored for the user"
    );
    assert_eq!(
        Refusal::InvalidUserId.to_string(),
        "the user ID is not valid"
    );
}

#[test]
fn refreshes_ask_for_the_vaults_scopes() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("at"));
    let vault = Vault::builder(client(&endpoint), MemoryStorage::new())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .with_scopes(["scope-a", "scope-b"])
        .build()
        .unwrap();
    block_on(vault.insert("u", Grant::new("rt".to_owned()))).unwrap();
    block_on(vault.headers("u")).unwrap();
    assert_eq!(
        endpoint.last_request().unwrap().form_value("scope"),
        Some("scope-a scope-b")
    );
    // Without scopes, none are sent: the user keeps what was granted.
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    let vault = Vault::builder(client(&endpoint), MemoryStorage::new())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    block_on(vault.insert("u", Grant::new("rt".to_owned()))).unwrap();
    block_on(vault.headers("u")).unwrap();
    assert_eq!(endpoint.last_request().unwrap().form_value("scope"), None);
}
