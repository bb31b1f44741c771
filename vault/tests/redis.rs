//! The vault's contract on Redis (listing on), and sealed records there.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use credkit_core::{Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use support::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_keeps_its_contract_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    support::run(
        || {
            Arc::new(RedisStorage::builder(&url).with_listing().build().unwrap())
                as Arc<dyn Storage>
        },
        Arc::new(SystemClock),
    )
    .await;
}
