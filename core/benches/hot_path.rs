//! The hot path: `apply()` and `headers()` on a fresh token, on 1 and 2 threads, beside the naive
//! design (a `Mutex<HeaderMap>` cloned per request) measured in the same run.
//!
//! `cargo bench -p credkit-core --bench hot_path`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use credkit_core::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock, TokenState};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use futures::future::BoxFuture;
use time::OffsetDateTime;

/// A clock that always says the same instant: isolates the cost of `SystemClock::now`.
#[derive(Debug)]
struct Frozen(OffsetDateTime);

impl Clock for Frozen {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        futures::future::ready(()).boxed()
    }
}

static QUOTA: HeaderName = HeaderName::from_static("x-goog-user-project");

const TOKEN: &str =
    "ya29.a0AfB_byC-benchmark-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

/// Fresh credentials writing both headers; `clock: None` is the default system clock.
fn credentials(clock: Option<Arc<dyn Clock>>, quota_project: bool) -> Credentials {
    let now = clock.as_ref().map_or_else(|| SystemClock.now(), Clock::now);
    let token = AccessToken::new(TOKEN).with_lifetime(now, Duration::from_secs(3600));
    let mut builder =
        Credentials::builder(StaticSource::new(token.clone())).with_initial_token(token);
    if let Some(clock) = clock {
        builder = builder.with_clock(clock);
    }
    if quota_project {
        builder = builder.with_quota_project("bench-project");
    }
    let credentials = builder.build().unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    credentials
}

/// The naive design with the expiry check it needs: the headers and their expiry behind a lock.
type Expiring = Mutex<(SystemTime, HeaderMap)>;

fn expiring(naive: &Mutex<HeaderMap>) -> Expiring {
    let headers = naive.lock().unwrap().clone();
    Mutex::new((SystemTime::now() + Duration::from_secs(3600), headers))
}

fn naive_headers(cache: &Expiring) -> HeaderMap {
    let cached = cache.lock().unwrap();
    assert!(SystemTime::now() < cached.0);
    cached.1.clone()
}

/// The naive design: the headers behind a lock, cloned for every request.
fn baseline() -> Mutex<HeaderMap> {
    let mut headers = HeaderMap::new();
    let mut auth = HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap();
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(&QUOTA, HeaderValue::from_static("bench-project"));
    Mutex::new(headers)
}

fn one_thread(c: &mut Criterion) {
    let system = credentials(None, true);
    let dyn_system = credentials(Some(Arc::new(SystemClock)), true);
    let frozen = credentials(Some(Arc::new(Frozen(SystemClock.now()))), true);
    let no_quota = credentials(None, false);
    let naive = baseline();
    let mut group = c.benchmark_group("1 thread");

    let mut headers = HeaderMap::with_capacity(2);
    group.bench_function("apply (SystemClock)", |b| {
        b.iter(|| black_box(system.apply(black_box(&mut headers))).unwrap());
    });
    group.bench_function("apply (SystemClock given as Arc<dyn Clock>)", |b| {
        b.iter(|| black_box(dyn_system.apply(black_box(&mut headers))).unwrap());
    });
    group.bench_function("apply (frozen clock)", |b| {
        b.iter(|| black_box(frozen.apply(black_box(&mut headers))).unwrap());
    });
    let mut one_header = HeaderMap::with_capacity(2);
    group.bench_function("apply (SystemClock, no quota project)", |b| {
        b.iter(|| black_box(no_quota.apply(black_box(&mut one_header))).unwrap());
    });
    group.bench_function("headers (SystemClock)", |b| {
        b.iter(|| black_box(system.headers().now_or_never().unwrap().unwrap()));
    });
    // One packed copy of the header values (no ready map: `headers()` builds one), as
    // credkit-vault keeps for each user.
    let packed = {
        let token =
            AccessToken::new(TOKEN).with_lifetime(SystemClock.now(), Duration::from_secs(3600));
        Credentials::builder(StaticSource::new(token.clone()))
            .with_initial_token(token)
            .with_quota_project("bench-project")
            .with_header_copies(1)
            .build()
            .unwrap()
    };
    group.bench_function("headers (SystemClock, one packed copy)", |b| {
        b.iter(|| black_box(packed.headers().now_or_never().unwrap().unwrap()));
    });
    group.bench_function("apply (SystemClock, one packed copy)", |b| {
        b.iter(|| black_box(packed.apply(black_box(&mut headers))).unwrap());
    });
    group.bench_function("access_token (SystemClock)", |b| {
        b.iter(|| black_box(system.access_token().now_or_never().unwrap().unwrap()));
    });
    group.bench_function("baseline: Mutex<HeaderMap> clone", |b| {
        b.iter(|| black_box(naive.lock().unwrap().clone()));
    });
    let naive_expiring = expiring(&naive);
    group.bench_function("baseline: Mutex<HeaderMap> clone + expiry check", |b| {
        b.iter(|| black_box(naive_headers(&naive_expiring)));
    });
    group.bench_function("part: SystemClock::now", |b| {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        b.iter(|| black_box(clock.now()));
    });
    group.bench_function("part: SystemTime::now", |b| {
        b.iter(|| black_box(SystemTime::now()));
    });
    group.bench_function("part: SystemClock::system_time (coarse)", |b| {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        b.iter(|| black_box(clock.system_time()));
    });
    group.bench_function("part: insert 1 static", |b| {
        b.iter(|| {
            headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        });
    });
    group.bench_function("part: clone+drop value", |b| {
        let auth = naive.lock().unwrap()[AUTHORIZATION].clone();
        b.iter(|| drop(black_box(auth.clone())));
    });
    group.bench_function("part: arc-swap load", |b| {
        let swap = arc_swap::ArcSwapOption::new(Some(Arc::new(5_u64)));
        b.iter(|| black_box(swap.load().as_deref().copied()));
    });
    group.bench_function("part: insert 2 clones", |b| {
        let src = naive.lock().unwrap().clone();
        let auth = src[AUTHORIZATION].clone();
        let qp = src["x-goog-user-project"].clone();
        b.iter(|| {
            headers.insert(AUTHORIZATION, auth.clone());
            headers.insert(&QUOTA, qp.clone());
        });
    });
    group.bench_function("baseline: Mutex<HeaderMap> insert", |b| {
        b.iter(|| {
            let cached = naive.lock().unwrap();
            for (name, value) in cached.iter() {
                headers.insert(name, value.clone());
            }
        });
    });
    group.finish();
}

/// Runs `work` on two threads at once, `iters` times each, each thread with its own map; the
/// time per call is the wall time divided by `iters` (each thread's calls overlap the other's).
fn two_threads<F>(iters: u64, work: F) -> Duration
where
    F: Fn(&mut HeaderMap) + Sync,
{
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut headers = HeaderMap::with_capacity(2);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        work(&mut headers);
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    })
}

fn two_thread_group(c: &mut Criterion) {
    let system = credentials(None, true);
    let naive = baseline();
    let mut group = c.benchmark_group("2 threads");
    group.bench_function("apply (SystemClock)", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |headers| {
                black_box(system.apply(black_box(headers))).unwrap();
            })
        });
    });
    group.bench_function("headers (SystemClock)", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_| {
                black_box(system.headers().now_or_never().unwrap().unwrap());
            })
        });
    });
    group.bench_function("baseline: Mutex<HeaderMap> clone", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_| {
                black_box(naive.lock().unwrap().clone());
            })
        });
    });
    let naive_expiring = expiring(&naive);
    group.bench_function("baseline: Mutex<HeaderMap> clone + expiry check", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_| {
                black_box(naive_headers(&naive_expiring));
            })
        });
    });
    group.finish();
}

criterion_group!(benches, one_thread, two_thread_group);
criterion_main!(benches);
