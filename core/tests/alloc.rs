//! Heap allocations on the hot path, counted by dhat in testing mode.
//!
//! This binary holds this one check and runs without the test harness (`harness = false`): the
//! allocator is process-wide, so another test, or the harness's own threads waiting on their
//! channels, would pollute the count.

// Setup in a test: a broken setup should fail loudly.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock, TokenState};
use futures::FutureExt;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CALLS: usize = 1_000;

fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    work();
    dhat::HeapStats::get().total_blocks - before
}

/// Credentials on the default clock, as in production, with both headers to write.
fn credentials() -> Credentials {
    credentials_with(Some("quota-project"))
}

/// Credentials on the default clock, with a quota project (a second header) or without.
fn credentials_with(quota_project: Option<&str>) -> Credentials {
    let token = AccessToken::new("ya29.alloc-test")
        .with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    let mut builder =
        Credentials::builder(StaticSource::new(token.clone())).with_initial_token(token);
    if let Some(project) = quota_project {
        builder = builder.with_quota_project(project);
    }
    builder.build().unwrap()
}

fn maps(capacity: usize) -> Vec<HeaderMap> {
    (0..CALLS)
        .map(|_| HeaderMap::with_capacity(capacity))
        .collect()
}

fn main() {
    apply_on_a_fresh_token_does_not_allocate();
    // The plain closing line test runners print, for whoever reads the log.
    println!("alloc: 1 passed, 0 failed");
}

fn apply_on_a_fresh_token_does_not_allocate() {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-apply.json"))
        .build();

    // Once per thread, arc-swap's first load registers the thread (one allocation, reused by
    // every later load on it). Do that with another instance.
    credentials().apply(&mut HeaderMap::new()).unwrap();

    let credentials = credentials();
    let no_quota_project = credentials_with(None);
    let mut requests = maps(2);
    let mut single_requests = maps(1);
    let mut more_requests = maps(2);
    let mut roomy = HeaderMap::with_capacity(4);
    let clone = credentials.clone();

    // Each request's own empty map with room for both headers, from the very first call.
    let into_new_maps = allocations_during(|| {
        for request in &mut requests {
            assert_eq!(credentials.apply(request).unwrap(), TokenState::Fresh);
        }
    });
    dhat::assert_eq!(into_new_maps, 0);

    // Without a quota project: the authorization header alone, into maps with room for it.
    let without_quota_project = allocations_during(|| {
        for request in &mut single_requests {
            assert_eq!(no_quota_project.apply(request).unwrap(), TokenState::Fresh);
        }
    });
    dhat::assert_eq!(without_quota_project, 0);

    // `before_request` on a fresh token takes the same path: no await, no allocation.
    let before_request = allocations_during(|| {
        for request in &mut more_requests {
            credentials
                .before_request(request)
                .now_or_never()
                .unwrap()
                .unwrap();
        }
    });
    dhat::assert_eq!(before_request, 0);

    // Replacing the values in a map that has spare room, through a clone of the handle too.
    let replacing = allocations_during(|| {
        for _ in 0..CALLS {
            credentials.apply(&mut roomy).unwrap();
            clone.apply(&mut roomy).unwrap();
        }
    });
    dhat::assert_eq!(replacing, 0);
    assert_eq!(roomy.len(), 2);
    assert!(requests.iter().chain(&more_requests).all(|r| r.len() == 2));
    assert!(single_requests.iter().all(|r| r.len() == 1));
}
