//! `RedisStorage` passes the `Storage` contract suite against a real redis-server.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_storage_redis::RedisStorage;
use support::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_storage_keeps_the_storage_contract() {
    support::require_redis!();
    let server = RedisServer::start();
    let url = server.url();
    // Each handle is a new RedisStorage on the same server, as another process's would be.
    credkit_testing::contract::storage::run(|| RedisStorage::new(&url).unwrap()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn redis_storage_keeps_the_contract_on_a_single_threaded_runtime() {
    support::require_redis!();
    let server = RedisServer::start();
    let url = server.url();
    credkit_testing::contract::storage::run(|| RedisStorage::new(&url).unwrap()).await;
}
