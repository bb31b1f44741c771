//! Heap allocations of the blocking API's hot path, counted by dhat in testing mode, beside
//! the async API's on the same fresh token: a cached call allocates nothing the async one
//! does not.
//!
//! This binary holds this one check and runs without the test harness (`harness = false`): the
//! allocator is process-wide, so another test, or the harness's own threads waiting on their
//! channels, would pollute the count.

// Setup in a test: a broken setup should fail loudly.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Duration;

use credkit::blocking;
use credkit::core::http::HeaderMap;
use credkit::core::{AccessToken, Clock, Credentials, StaticSource, SystemClock};
use futures::FutureExt;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CALLS: u64 = 1_000;

fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    work();
    dhat::HeapStats::get().total_blocks - before
}

/// Fresh credentials on the default clock, as in production, with both headers to write.
fn credentials() -> Credentials {
    let token = AccessToken::new("ya29.alloc-test")
        .with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    Credentials::builder(StaticSource::new(token.clone()))
        .with_initial_token(token)
        .with_quota_project("quota-project")
        .build()
        .unwrap()
}

fn main() {
    the_blocking_hot_path_allocates_no_more_than_the_async_one();
    // The plain closing line test runners print, for whoever reads the log.
    println!("blocking_alloc: 1 passed, 0 failed");
}

fn the_blocking_hot_path_allocates_no_more_than_the_async_one() {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-blocking.json"))
        .build();

    // Once per thread, arc-swap's first load registers the thread (one allocation, reused by
    // every later load on it). Do that with another instance.
    blocking::Credentials::from(credentials())
        .headers()
        .unwrap();

    let credentials = credentials();
    let sync = blocking::Credentials::from(credentials.clone());

    let async_headers = allocations_during(|| {
        for _ in 0..CALLS {
            let headers = credentials.headers().now_or_never().unwrap().unwrap();
            assert_eq!(headers.len(), 2);
        }
    });
    let blocking_headers = allocations_during(|| {
        for _ in 0..CALLS {
            let headers = sync.headers().unwrap();
            assert_eq!(headers.len(), 2);
        }
    });
    // The map returned is all either allocates.
    dhat::assert!(blocking_headers <= async_headers);
    dhat::assert!(blocking_headers <= 2 * CALLS);

    let async_tokens = allocations_during(|| {
        for _ in 0..CALLS {
            drop(credentials.access_token().now_or_never().unwrap().unwrap());
        }
    });
    let blocking_tokens = allocations_during(|| {
        for _ in 0..CALLS {
            drop(sync.access_token().unwrap());
        }
    });
    dhat::assert_eq!(async_tokens, 0);
    dhat::assert_eq!(blocking_tokens, 0);

    // Into maps with room for both headers: nothing at all.
    let mut maps: Vec<HeaderMap> = (0..CALLS).map(|_| HeaderMap::with_capacity(2)).collect();
    let into_maps = allocations_during(|| {
        for map in &mut maps {
            sync.before_request(map).unwrap();
        }
    });
    dhat::assert_eq!(into_maps, 0);
    println!(
        "allocations in {CALLS} calls: headers() blocking {blocking_headers} async \
         {async_headers}; access_token() blocking {blocking_tokens} async {async_tokens}",
    );
}
