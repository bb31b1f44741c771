//! `MemoryStorage` passes the `Storage` contract suite of credkit-testing.

#![allow(clippy::unwrap_used)]

use credkit_core::MemoryStorage;

#[test]
fn memory_storage_keeps_the_storage_contract() {
    let storage = MemoryStorage::new();
    futures::executor::block_on(credkit_testing::contract::storage::run(|| storage.clone()));
}

#[test]
fn memory_storage_lists_its_keys_in_pages() {
    use credkit_core::{CredentialRecord, Storage};
    let storage = MemoryStorage::new();
    futures::executor::block_on(async {
        for key in ["a-1", "a-2", "a-3", "b-1"] {
            storage.store(key, &CredentialRecord::new()).await.unwrap();
        }
        let first = storage.list("a-", None, 2).await.unwrap().unwrap();
        assert_eq!(first.keys(), ["a-1", "a-2"]);
        let second = storage.list("a-", first.next(), 2).await.unwrap().unwrap();
        assert_eq!(second.keys(), ["a-3"]);
        assert_eq!(second.next(), None);
    });
}
