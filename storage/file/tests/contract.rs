//! `FileStorage` passes the `Storage` contract suite, under any runtime or none.
#![allow(clippy::unwrap_used, clippy::panic)]

use credkit_storage_file::FileStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_storage_keeps_the_storage_contract() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("credkit");
    // Each handle is a new FileStorage on the same directory, as another process's would be.
    credkit_testing::contract::storage::run(|| FileStorage::new(&dir).unwrap()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn file_storage_keeps_the_contract_on_a_single_threaded_runtime() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("credkit");
    credkit_testing::contract::storage::run(|| FileStorage::new(&dir).unwrap()).await;
}

#[test]
fn file_storage_keeps_the_contract_without_a_runtime() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("credkit");
    futures::executor::block_on(credkit_testing::contract::storage::run(|| {
        FileStorage::new(&dir).unwrap()
    }));
}
