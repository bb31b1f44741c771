//! The schema: created once by processes that start together, left alone by a second
//! migration (which then needs no privilege to create anything), refused with a clear error
//! when a newer credkit made it; in the schema and under the prefix given.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_core::{CredentialRecord, ErrorKind, Storage};
use credkit_storage_postgres::PostgresStorage;
use support::PgServer;

async fn versions(server: &PgServer, table: &str) -> Vec<i32> {
    server
        .client()
        .await
        .query(
            &format!("SELECT version FROM {table} ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_migrating_together_create_the_tables_once() {
    support::require_postgres!();
    let server = PgServer::start();
    let handles: Vec<PostgresStorage> = (0..8)
        .map(|_| PostgresStorage::new(&server.url()).unwrap())
        .collect();
    let outcomes = futures::future::join_all(handles.iter().map(PostgresStorage::migrate)).await;
    for outcome in outcomes {
        outcome.unwrap();
    }
    assert_eq!(versions(&server, "credkit_schema_version").await, [1]);
    // And stores, on first use, without an explicit migration, as many at once.
    let fresh: Vec<PostgresStorage> = (0..8)
        .map(|_| {
            PostgresStorage::builder(server.url())
                .with_table_prefix("other_")
                .build()
                .unwrap()
        })
        .collect();
    let record = &CredentialRecord::new();
    let stores = futures::future::join_all(
        fresh
            .iter()
            .enumerate()
            .map(|(i, storage)| async move { storage.store(&format!("k{i}"), record).await }),
    )
    .await;
    for outcome in stores {
        outcome.unwrap();
    }
    assert_eq!(versions(&server, "other_schema_version").await, [1]);
    assert_eq!(fresh[0].count("").await.unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migration_is_a_no_op_that_needs_no_privilege_to_create() {
    support::require_postgres!();
    let server = PgServer::start();
    let owner = PostgresStorage::new(&server.url()).unwrap();
    owner.migrate().await.unwrap();
    owner.migrate().await.unwrap();
    PostgresStorage::new(&server.url())
        .unwrap()
        .migrate()
        .await
        .unwrap();
    assert_eq!(versions(&server, "credkit_schema_version").await, [1]);
    // A user granted only the rows: it may not create anything, and needs not.
    server
        .execute(
            "CREATE ROLE rows_only LOGIN;
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             GRANT SELECT ON credkit_schema_version TO rows_only;
             GRANT SELECT, INSERT, UPDATE, DELETE ON credkit_records, credkit_leases TO rows_only;",
        )
        .await;
    let url = server.url().replace("credkit@", "rows_only@");
    let limited = PostgresStorage::new(&url).unwrap();
    limited.migrate().await.unwrap();
    limited.store("k", &CredentialRecord::new()).await.unwrap();
    assert!(limited.load("k").await.unwrap().is_some());
    // Tables it would have to create: refused, saying what to grant.
    let elsewhere = PostgresStorage::builder(&url)
        .with_table_prefix("new_")
        .build()
        .unwrap();
    let err = elsewhere.migrate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("grant"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_of_a_newer_schema_version_are_refused_with_a_clear_error() {
    support::require_postgres!();
    let server = PgServer::start();
    PostgresStorage::new(&server.url())
        .unwrap()
        .migrate()
        .await
        .unwrap();
    server
        .execute("INSERT INTO credkit_schema_version (version) VALUES (2)")
        .await;
    let storage = PostgresStorage::new(&server.url()).unwrap();
    let err = storage.load("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("schema version 2") && message.contains("upgrade credkit"),
        "{message}"
    );
    // Every call says so, not only the first.
    assert!(
        storage
            .migrate()
            .await
            .unwrap_err()
            .to_string()
            .contains("schema version 2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_go_in_the_schema_and_under_the_prefix_given() {
    support::require_postgres!();
    let server = PgServer::start();
    let auth = PostgresStorage::builder(server.url())
        .with_schema("auth")
        .with_table_prefix("app_")
        .build()
        .unwrap();
    auth.store("k", &CredentialRecord::new()).await.unwrap();
    assert_eq!(auth.records_table(), "\"auth\".\"app_records\"");
    let tables: Vec<String> = server
        .client()
        .await
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'auth' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(tables, ["app_leases", "app_records", "app_schema_version"]);
    // Another prefix, or the default place, is another namespace.
    let default = PostgresStorage::new(&server.url()).unwrap();
    assert!(default.load("k").await.unwrap().is_none());
    let unprefixed = PostgresStorage::builder(server.url())
        .with_table_prefix("")
        .build()
        .unwrap();
    assert!(unprefixed.load("k").await.unwrap().is_none());
    assert_eq!(unprefixed.records_table(), "\"records\"");
}
