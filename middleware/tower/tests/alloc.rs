//! Heap allocations per request added by the layer with a fresh token, counted by dhat in
//! testing mode.
//!
//! This binary runs without the test harness (`harness = false`): the allocator is
//! process-wide, so another test, or the harness's own threads, would pollute the count.

// Setup in a test: a broken setup should fail loudly.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::panic)]

#[path = "../benches/support/mod.rs"]
mod support;

use credkit_tower::AuthLayer;
use tower::{Service, ServiceBuilder};

use support::{Answer, credentials, one, request};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CALLS: u64 = 1_000;

/// Allocations for `CALLS` requests through `service`, each built the same way.
fn allocations<S>(service: &mut S) -> u64
where
    S: Service<http::Request<http_body_util::Full<bytes::Bytes>>>,
{
    let uri: http::Uri = "https://api.example/v1/items".parse().unwrap();
    // Warm up: arc-swap registers each thread on its first load.
    assert!(one(service, request(&uri)));
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..CALLS {
        assert!(one(service, request(&uri)));
    }
    dhat::HeapStats::get().total_blocks - before
}

fn main() {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-tower.json"))
        .build();

    let bare = allocations(&mut ServiceBuilder::new().service(Answer));
    let no_replay = allocations(
        &mut ServiceBuilder::new()
            .layer(AuthLayer::new(credentials()).without_replay())
            .service(Answer),
    );
    let replay = allocations(
        &mut ServiceBuilder::new()
            .layer(AuthLayer::new(credentials()))
            .service(Answer),
    );
    println!(
        "allocations per request: {} without the layer, {} with it (replay off), {} with it \
         (replay by clone)",
        bare / CALLS,
        no_replay / CALLS,
        replay / CALLS,
    );
    // With a fresh token the layer adds nothing: the headers are cached values.
    dhat::assert_eq!(no_replay, bare);
    // The replay copy costs the copy of the request's header map (its two buffers), no more.
    dhat::assert!(replay <= bare + 2 * CALLS);
    println!("alloc: 1 passed, 0 failed");
}
