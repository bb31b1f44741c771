//! The vault's contract on Postgres (a throwaway cluster per test), and a sealed record moved
//! to another user's key there. Skipped in one line without Postgres, unless
//! `CREDKIT_REQUIRE_POSTGRES=1`.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use credkit_core::{Storage, SystemClock};
use credkit_storage_postgres::PostgresStorage;
use credkit_testing::FakeTokenEndpoint;
use credkit_vault::{DataKey, Grant, Keyring, SealedCodec, SealedError, Vault};
use support::postgres::{self, PgServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_keeps_its_contract_on_postgres() {
    if !postgres::postgres_available() {
        return;
    }
    let server = PgServer::start();
    let url = server.url();
    support::run(
        || Arc::new(PostgresStorage::new(&url).unwrap()) as Arc<dyn Storage>,
        Arc::new(SystemClock),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_record_moved_under_another_users_key_is_refused_on_postgres() {
    if !postgres::postgres_available() {
        return;
    }
    let server = PgServer::start();
    let url = server.url();
    let sealed = || {
        PostgresStorage::builder(&url)
            .with_codec(SealedCodec::new(Keyring::new(
                DataKey::new("k1", [3; 32]).unwrap(),
            )))
            .build()
            .unwrap()
    };
    let endpoint = FakeTokenEndpoint::new();
    let vault = Vault::builder(support::client(&endpoint), sealed())
        .with_transport(endpoint.clone())
        .build()
        .unwrap();
    vault
        .insert("alice", Grant::new("rt-alice".to_owned()))
        .await
        .unwrap();
    vault
        .insert("mallory", Grant::new("rt-mallory".to_owned()))
        .await
        .unwrap();
    // Alice's sealed bytes copied over Mallory's, in SQL.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let table = sealed().records_table().to_owned();
    client
        .execute(
            &format!(
                "UPDATE {table} SET record = (SELECT record FROM {table} WHERE key = 'vault:alice') WHERE key = 'vault:mallory'"
            ),
            &[],
        )
        .await
        .unwrap();
    let err = vault.headers("mallory").await.unwrap_err();
    assert!(
        matches!(SealedError::of(&err), Some(SealedError::ForeignOrAltered)),
        "{err}"
    );
    assert!(!err.to_string().contains("rt-alice"));
}
