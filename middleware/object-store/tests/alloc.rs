//! Heap allocations per `get_credential()` with a fresh token, counted by dhat in testing
//! mode: this crate's provider allocates no more than `object_store`'s own static provider (the
//! boxed future of its `#[async_trait]` trait), where a new credential per call would cost two
//! more (the `Arc` and the bearer's `String`).
//!
//! This binary runs without the test harness (`harness = false`): the allocator is
//! process-wide, so another test, or the harness's own threads, would pollute the count.

// Setup in a test: a broken setup should fail loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

#[path = "../benches/support/mod.rs"]
mod support;

use std::sync::Arc;

use credkit_object_store::GcsCredentialProvider;
use object_store::gcp::GcpCredential;
use object_store::{CredentialProvider, StaticCredentialProvider};

use support::{Naive, TOKEN, credentials, one};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CALLS: u64 = 1_000;

/// Allocations for `CALLS` calls of `provider`, and the credential it gave last.
fn allocations<P: CredentialProvider<Credential = GcpCredential>>(
    provider: &P,
) -> (u64, Arc<GcpCredential>) {
    // Warm up: arc-swap registers each thread on its first load; the first call makes the
    // credential.
    let first = one(provider);
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..CALLS {
        assert_eq!(one(provider).bearer, TOKEN);
    }
    let after = dhat::HeapStats::get().total_blocks;
    (after - before, first)
}

fn main() {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(
            env!("CARGO_TARGET_TMPDIR"),
            "/dhat-object-store.json"
        ))
        .build();

    let (floor, _) = allocations(&StaticCredentialProvider::new(GcpCredential {
        bearer: TOKEN.to_owned(),
    }));
    let ours = GcsCredentialProvider::new(credentials());
    let (provider, first) = allocations(&ours);
    let (naive, _) = allocations(&Naive(credentials()));
    println!(
        "allocations per get_credential(): {} for object_store's static provider, {} for \
         GcsCredentialProvider, {} for a new credential per call",
        floor / CALLS,
        provider / CALLS,
        naive / CALLS,
    );
    dhat::assert_eq!(provider, floor);
    dhat::assert_eq!(naive, floor + 2 * CALLS);
    // And it is the same credential every time.
    dhat::assert!(Arc::ptr_eq(&first, &one(&ours)));
    println!("alloc: 1 passed, 0 failed");
}
