//! `PostgresStorage` passes the `Storage` contract suite against a real Postgres, fencing and
//! listing included.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_storage_postgres::PostgresStorage;
use support::PgServer;

fn handle(url: &str) -> PostgresStorage {
    PostgresStorage::new(url).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_storage_keeps_the_storage_contract() {
    support::require_postgres!();
    let server = PgServer::start();
    let url = server.url();
    let leases = handle(&url).leases_table().to_owned();
    let client = server.client().await;
    // Each handle is a new PostgresStorage on the same database, as another process's would
    // be. A lease lapses as if its holder paused past its time to live: its row is gone.
    credkit_testing::contract::storage::run_fenced(
        || handle(&url),
        |key| {
            let (client, leases) = (&client, &leases);
            async move {
                client
                    .execute(&format!("DELETE FROM {leases} WHERE key = $1"), &[&key])
                    .await
                    .unwrap();
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn postgres_storage_keeps_the_contract_on_a_single_threaded_runtime() {
    support::require_postgres!();
    let server = PgServer::start();
    let url = server.url();
    credkit_testing::contract::storage::run(|| handle(&url)).await;
}
