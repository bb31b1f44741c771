//! `MemoryStorage` passes the `Storage` contract suite of credkit-testing.

use credkit_core::MemoryStorage;

#[test]
fn memory_storage_keeps_the_storage_contract() {
    let storage = MemoryStorage::new();
    futures::executor::block_on(credkit_testing::contract::storage::run(|| storage.clone()));
}
