//! The vault's own contract, run on every storage it supports (memory, Redis, Postgres), and
//! what the tests share.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::{Arc, Mutex};

pub mod fleet;
#[path = "../../../storage/postgres/tests/support/mod.rs"]
pub mod postgres;
pub mod redis;
#[path = "../../examples/fleet/token_server.rs"]
pub mod token_server;

use credkit_core::{Clock, ErrorKind, Storage};
use credkit_login::OAuthClient;
use credkit_testing::{FakeTokenEndpoint, Reply};
use credkit_vault::{Grant, Inserted, Refusal, Removed, Vault, VaultEvent};
use futures::future::join_all;
use secrecy::ExposeSecret;

/// The events a vault reported.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<VaultEvent>>>);

impl Events {
    pub fn observer(&self) -> impl Fn(&VaultEvent) + Send + Sync + 'static {
        let seen = Arc::clone(&self.0);
        move |event: &VaultEvent| seen.lock().unwrap().push(event.clone())
    }

    pub fn consent_needed(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|event| match event {
                VaultEvent::ConsentNeeded { user, .. } => Some(user.to_string()),
                _ => None,
            })
            .collect()
    }

    pub fn all(&self) -> Vec<VaultEvent> {
        self.0.lock().unwrap().clone()
    }
}

pub fn client(endpoint: &FakeTokenEndpoint) -> OAuthClient {
    OAuthClient::new("client-id", Some("client-secret".into()))
        .with_token_uri(endpoint.token_url())
        .with_revoke_uri("http://127.0.0.1:9/revoke")
}

/// A vault on `storage` (one "process"), answering through `endpoint`.
pub fn vault(
    storage: Arc<dyn Storage>,
    endpoint: &FakeTokenEndpoint,
    clock: Arc<dyn Clock>,
    events: &Events,
) -> Vault {
    Vault::builder(client(endpoint), storage)
        .with_transport(endpoint.clone())
        .with_clock(clock)
        .with_key_prefix("contract-vault:")
        .on_event(events.observer())
        .build()
        .unwrap()
}

/// How many requests went to the token endpoint (not the revocation endpoint).
pub fn token_requests(endpoint: &FakeTokenEndpoint) -> usize {
    endpoint
        .requests()
        .iter()
        .filter(|request| request.path() == "/token")
        .count()
}

/// The vault's contract on a storage: `make` returns a handle on one and the same storage each
/// time (a new process's); `clock` is the clock every vault runs on.
pub async fn run<F>(make: F, clock: Arc<dyn Clock>)
where
    F: Fn() -> Arc<dyn Storage>,
{
    a_grant_is_served_and_refreshed_once(&make, &clock).await;
    a_revoked_user_makes_one_request_across_processes(&make, &clock).await;
    a_newer_grant_is_not_overwritten(&make, &clock).await;
    removal_revokes_then_deletes(&make, &clock).await;
    users_are_listed_and_counted(&make, &clock).await;
    unknown_and_invalid_users_are_refused(&make, &clock).await;
}

async fn a_grant_is_served_and_refreshed_once<F: Fn() -> Arc<dyn Storage>>(
    make: &F,
    clock: &Arc<dyn Clock>,
) {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("at-served"));
    let events = Events::default();
    let (a, b) = (
        vault(make(), &endpoint, Arc::clone(clock), &events),
        vault(make(), &endpoint, Arc::clone(clock), &events),
    );
    assert_eq!(
        a.insert("served", Grant::new("rt-served".to_owned()))
            .await
            .unwrap(),
        Inserted::New
    );
    // Two processes, many callers each: one token request between them.
    let calls = (0..50).map(|i| {
        let vault = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { vault.headers("served").await }
    });
    for headers in join_all(calls).await {
        assert_eq!(headers.unwrap()["authorization"], "Bearer at-served");
    }
    assert_eq!(
        token_requests(&endpoint),
        1,
        "one refresh per user per expiry"
    );
    let status = a.status("served").await.unwrap();
    assert!(status.stored && status.has_refresh_token && !status.consent_needed());
    assert!(!format!("{status:?}").contains("at-served"));
    // (The script's last reply, a 200, answers the revocation too.)
    assert_eq!(a.remove("served").await.unwrap(), Removed::Revoked);
}

async fn a_revoked_user_makes_one_request_across_processes<F: Fn() -> Arc<dyn Storage>>(
    make: &F,
    clock: &Arc<dyn Clock>,
) {
    let endpoint = FakeTokenEndpoint::new();
    // The script's last reply repeats: a second request would get a token, and fail the test.
    endpoint.push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    endpoint.push_reply(Reply::token("at-again"));
    let (events_a, events_b) = (Events::default(), Events::default());
    let a = vault(make(), &endpoint, Arc::clone(clock), &events_a);
    let b = vault(make(), &endpoint, Arc::clone(clock), &events_b);
    a.insert("revoked", Grant::new("rt-revoked".to_owned()))
        .await
        .unwrap();
    // 1 000 concurrent requests: one token request, every caller told consent is needed.
    let calls = (0..1000).map(|_| a.headers("revoked"));
    for outcome in join_all(calls).await {
        let err = outcome.unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::ConsentNeeded), "{err}");
        assert_eq!(err.oauth_error(), Some("invalid_grant"));
        assert!(!err.is_transient());
    }
    assert_eq!(token_requests(&endpoint), 1);
    // Then none: not here, not in another process.
    for _ in 0..100 {
        assert_eq!(
            Refusal::of(&a.headers("revoked").await.unwrap_err()),
            Some(Refusal::ConsentNeeded)
        );
        assert_eq!(
            Refusal::of(&b.headers("revoked").await.unwrap_err()),
            Some(Refusal::ConsentNeeded)
        );
    }
    assert_eq!(token_requests(&endpoint), 1);
    assert_eq!(events_a.consent_needed(), ["revoked"], "reported once");
    assert!(
        events_b.consent_needed().is_empty(),
        "and only by the process that found it"
    );
    assert!(b.status("revoked").await.unwrap().consent_needed());

    // A new consent: inserted by another process, used at once there.
    assert_eq!(
        b.insert("revoked", Grant::new("rt-again".to_owned()))
            .await
            .unwrap(),
        Inserted::Replaced
    );
    assert_eq!(
        b.headers("revoked").await.unwrap()["authorization"],
        "Bearer at-again"
    );
    assert!(!b.status("revoked").await.unwrap().consent_needed());
    b.forget("revoked");
    b.remove("revoked").await.ok();
}

async fn a_newer_grant_is_not_overwritten<F: Fn() -> Arc<dyn Storage>>(
    make: &F,
    clock: &Arc<dyn Clock>,
) {
    let endpoint = FakeTokenEndpoint::new();
    let events = Events::default();
    let vault = vault(make(), &endpoint, Arc::clone(clock), &events);
    let now = clock.now();
    vault
        .insert(
            "newer",
            Grant::new("rt-later".to_owned()).with_granted_at(now),
        )
        .await
        .unwrap();
    let older = Grant::new("rt-earlier".to_owned())
        .with_granted_at(now - std::time::Duration::from_secs(60));
    let err = vault.insert("newer", older.clone()).await.unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::NewerGrant), "{err}");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let kept = make().load("contract-vault:newer").await.unwrap().unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-later");
    assert_eq!(
        vault.insert("newer", older.replacing()).await.unwrap(),
        Inserted::Replaced
    );
    let kept = make().load("contract-vault:newer").await.unwrap().unwrap();
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), "rt-earlier");
    make().remove("contract-vault:newer").await.unwrap();
}

async fn removal_revokes_then_deletes<F: Fn() -> Arc<dyn Storage>>(
    make: &F,
    clock: &Arc<dyn Clock>,
) {
    let endpoint = FakeTokenEndpoint::new();
    let events = Events::default();
    let vault = vault(make(), &endpoint, Arc::clone(clock), &events);
    vault
        .insert("leaving", Grant::new("rt-leaving".to_owned()))
        .await
        .unwrap();
    // The revocation endpoint is out of reach: the record stays, for a retry.
    endpoint.push_reply(Reply::reset());
    endpoint.push_reply(Reply::json(200, serde_json::json!({})));
    endpoint.push_reply(Reply::oauth_error(400, "invalid_token", None));
    let err = vault.remove("leaving").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(vault.status("leaving").await.unwrap().stored);
    assert_eq!(vault.remove("leaving").await.unwrap(), Removed::Revoked);
    let revoke = endpoint.last_request().unwrap();
    assert_eq!(revoke.path(), "/revoke");
    assert_eq!(revoke.form_value("token"), Some("rt-leaving"));
    assert!(!vault.status("leaving").await.unwrap().stored);
    assert_eq!(vault.remove("leaving").await.unwrap(), Removed::NotStored);
    assert_eq!(
        Refusal::of(&vault.headers("leaving").await.unwrap_err()),
        Some(Refusal::UnknownUser)
    );
    // A token the server no longer knows: removed all the same.
    vault
        .insert("gone", Grant::new("rt-gone".to_owned()))
        .await
        .unwrap();
    assert_eq!(vault.remove("gone").await.unwrap(), Removed::AlreadyInvalid);
}

async fn users_are_listed_and_counted<F: Fn() -> Arc<dyn Storage>>(
    make: &F,
    clock: &Arc<dyn Clock>,
) {
    let endpoint = FakeTokenEndpoint::new();
    let events = Events::default();
    let vault = vault(make(), &endpoint, Arc::clone(clock), &events);
    let users: Vec<String> = (0..7).map(|i| format!("listed-{i}")).collect();
    for user in &users {
        vault
            .insert(user, Grant::new(format!("rt-{user}")))
            .await
            .unwrap();
    }
    // A record outside the vault's prefix is not a user.
    make()
        .store("elsewhere:x", &credkit_core::CredentialRecord::new())
        .await
        .unwrap();
    assert_eq!(vault.count().await.unwrap(), 7);
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = vault.list(cursor.as_deref(), 3).await.unwrap();
        assert!(page.keys().len() <= 3);
        listed.extend(page.keys().iter().cloned());
        match page.next() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, users);
    for user in &users {
        make().remove(&vault.storage_key(user)).await.unwrap();
    }
    make().remove("elsewhere:x").await.unwrap();
    assert_eq!(vault.count().await.unwrap(), 0);
}

async fn unknown_and_invalid_users_are_refused<F: Fn() -> Arc<dyn Storage>>(
    make: &F,
    clock: &Arc<dyn Clock>,
) {
    let endpoint = FakeTokenEndpoint::new();
    let events = Events::default();
    let vault = vault(make(), &endpoint, Arc::clone(clock), &events);
    let err = vault.access_token("nobody").await.unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::UnknownUser));
    for bad in ["", "a\nb", &"x".repeat(513)] {
        let err = vault.headers(bad).await.unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::InvalidUserId), "{bad:?}");
        let err = vault
            .insert(bad, Grant::new("rt".to_owned()))
            .await
            .unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::InvalidUserId));
    }
    assert_eq!(token_requests(&endpoint), 0);
}
