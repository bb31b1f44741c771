//! The vault's contract on `MemoryStorage`.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use credkit_core::{MemoryStorage, Storage, SystemClock};

#[test]
fn the_vault_keeps_its_contract_on_memory_storage() {
    let storage = MemoryStorage::new();
    futures::executor::block_on(support::run(
        || Arc::new(storage.clone()) as Arc<dyn Storage>,
        Arc::new(SystemClock),
    ));
}
