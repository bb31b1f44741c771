//! Several processes (here, `Credentials` on clones of one store, each a holder of its own)
//! whose shared token expired make one token request between them, and all use its token.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, CredentialRecord, Credentials, Result, Storage, TokenSource};
use credkit_storage_postgres::PostgresStorage;
use secrecy::ExposeSecret;
use support::PgServer;

const KEY: &str = "fleet:user";

/// Counts the token requests of every member; each request issues a new token.
#[derive(Debug)]
struct Counting(Arc<AtomicUsize>);

#[async_trait]
impl TokenSource for Counting {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        // A slow token endpoint: the others wait on the lease meanwhile.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let expiry = credkit_core::time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
        Ok(AccessToken::new(format!("at-{n}")).with_expiry(expiry))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_makes_one_token_request_per_expiry() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::builder(server.url())
        .with_lease_poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let expired = CredentialRecord::new().with_access_token(
        &AccessToken::new("at-old")
            .with_expiry(credkit_core::time::OffsetDateTime::now_utc() - Duration::from_secs(60)),
    );
    storage.store(KEY, &expired).await.unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let members: Vec<Credentials> = (0..6)
        .map(|_| {
            Credentials::builder(Counting(Arc::clone(&requests)))
                .with_storage(storage.clone(), KEY)
                .build()
                .unwrap()
        })
        .collect();
    let tokens = futures::future::join_all(members.iter().map(|member| async move {
        let token = member.access_token().await.unwrap();
        token.secret().expose_secret().to_owned()
    }))
    .await;
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "one request: {tokens:?}"
    );
    assert!(tokens.iter().all(|token| token == "at-0"), "{tokens:?}");
    let stored = storage.load(KEY).await.unwrap().unwrap();
    assert_eq!(
        stored.access_token().unwrap().secret().expose_secret(),
        "at-0"
    );
}
