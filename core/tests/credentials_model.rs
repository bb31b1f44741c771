//! The rotation promise, model-checked: random interleavings of two or three `Credentials`
//! ("processes") sharing one `MemoryStorage` and its lease, each with several callers, against
//! a token endpoint in strict-rotation mode (a rotated-away refresh token is refused). Callers
//! are cancelled at random await points; stores fail, hang or panic; spawners run, or there is
//! none; all on a `FakeClock`, polled by hand, so every case is deterministic and instant.
//!
//! Invariants:
//! - no grant ever presents a rotated-away refresh token (checked after every step);
//! - no caller waits past its deadline (after every step);
//! - at the end, once stores work and every process has refreshed, the stored refresh token is
//!   the endpoint's current one, and no lease is held.
//!
//! `MODEL_CASES` sets the number of cases (default 64; thousands for a longer run).

#![allow(clippy::unwrap_used, clippy::panic)]

mod credentials_support;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{Clock, CredentialRecord, Credentials, Result, Storage};
use credkit_testing::FakeClock;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::task::noop_waker_ref;
use proptest::prelude::*;
use secrecy::SecretString;
use time::OffsetDateTime;

use credentials_support::{FaultStore, StoreFault, StrictEndpoint, StrictSource};

const KEY: &str = "user";
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
enum Step {
    /// Process `p % n` gets a caller: 0 `headers`, 1 `refresh`, 2 `access_token`.
    Call(usize, u8),
    /// Drops the caller at this index (modulo the number waiting).
    Cancel(usize),
    Advance(u64),
    /// `apply` on process `p % n`, then any refresh ahead it hands over is dropped at once.
    Apply(usize),
    /// Polls every spawned task once.
    RunSpawned,
    /// An API rejects the token process `p % n` holds (a 401): dropped, or kept when it had
    /// just replaced a rejected one.
    Reject(usize),
    Stores(StoreFault),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (any::<usize>(), 0_u8..3).prop_map(|(p, k)| Step::Call(p, k)),
        2 => any::<usize>().prop_map(Step::Cancel),
        4 => prop_oneof![0_u64..3, 0_u64..90, 2500_u64..3700].prop_map(Step::Advance),
        2 => any::<usize>().prop_map(Step::Apply),
        2 => Just(Step::RunSpawned),
        1 => any::<usize>().prop_map(Step::Reject),
        1 => prop_oneof![
            3 => Just(StoreFault::Works),
            1 => Just(StoreFault::Fails),
            1 => Just(StoreFault::Hangs),
            1 => Just(StoreFault::Panics),
        ]
        .prop_map(Step::Stores),
    ]
}

type Queue = Arc<Mutex<Vec<BoxFuture<'static, ()>>>>;

struct Caller {
    started: OffsetDateTime,
    future: BoxFuture<'static, Result<()>>,
}

struct Model {
    clock: FakeClock,
    endpoint: Arc<StrictEndpoint>,
    store: FaultStore,
    processes: Vec<Credentials>,
    queue: Queue,
    callers: Vec<Caller>,
}

impl Model {
    fn new(processes: usize, latency: u64, spawner: bool) -> Self {
        let clock = FakeClock::new();
        let endpoint = StrictEndpoint::new();
        let store = FaultStore::new(&clock);
        let login = CredentialRecord::new().with_refresh_token(SecretString::from("rt-0"));
        futures::executor::block_on(store.inner.store(KEY, &login)).unwrap();
        let queue: Queue = Arc::default();
        let processes = (0..processes)
            .map(|_| {
                let source = StrictSource::new(&clock, &endpoint, Duration::from_secs(latency));
                let mut builder = Credentials::builder(source)
                    .with_clock(clock.clone())
                    .with_storage(store.clone(), KEY)
                    .with_flight_deadline(DEADLINE)
                    .without_retries();
                if spawner {
                    let queue = Arc::clone(&queue);
                    builder = builder.with_spawner(move |f| queue.lock().unwrap().push(f));
                }
                builder.build().unwrap()
            })
            .collect();
        Self {
            clock,
            endpoint,
            store,
            processes,
            queue,
            callers: Vec::new(),
        }
    }

    fn process(&self, p: usize) -> Credentials {
        self.processes[p % self.processes.len()].clone()
    }

    fn run(&mut self, step: &Step) {
        match *step {
            Step::Call(p, kind) => {
                let credentials = self.process(p);
                let future: BoxFuture<'static, Result<()>> = match kind {
                    0 => async move { credentials.headers().await.map(drop) }.boxed(),
                    1 => async move { credentials.refresh().await.map(drop) }.boxed(),
                    _ => async move { credentials.access_token().await.map(drop) }.boxed(),
                };
                self.callers.push(Caller {
                    started: self.clock.now(),
                    future,
                });
            }
            Step::Cancel(index) => {
                if !self.callers.is_empty() {
                    let index = index % self.callers.len();
                    drop(self.callers.swap_remove(index));
                }
            }
            Step::Advance(seconds) => self.clock.advance(Duration::from_secs(seconds)),
            Step::Apply(p) => {
                let credentials = self.process(p);
                let _ = credentials.apply(&mut HeaderMap::new());
                if let Some(mut ahead) = credentials.refresh_ahead() {
                    // Polled once beside a request that is answered at once, then dropped.
                    let _ = ahead.poll_unpin(&mut Context::from_waker(noop_waker_ref()));
                }
            }
            Step::RunSpawned => self.run_spawned(),
            Step::Reject(p) => {
                let credentials = self.process(p);
                if let Some(token) = credentials.token() {
                    let _ = credentials.invalidate_if(&token);
                }
            }
            Step::Stores(fault) => self.store.set_store(fault),
        }
        self.poll_all();
        self.check();
    }

    fn run_spawned(&self) {
        let queued: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        let mut still = Vec::new();
        for mut future in queued {
            if future
                .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
                .is_pending()
            {
                still.push(future);
            }
        }
        self.queue.lock().unwrap().extend(still);
    }

    /// Polls every caller until none makes progress.
    fn poll_all(&mut self) {
        loop {
            let before = self.callers.len();
            self.callers.retain_mut(|caller| {
                caller
                    .future
                    .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
                    .is_pending()
            });
            if self.callers.len() == before {
                break;
            }
        }
    }

    fn check(&self) {
        assert_eq!(
            self.endpoint.refused(),
            0,
            "a grant presented a rotated-away refresh token: {:?}",
            self.endpoint.presented()
        );
        let now = self.clock.now();
        for caller in &self.callers {
            assert!(
                now < caller.started + DEADLINE,
                "a caller waited past its deadline"
            );
        }
    }

    /// Stores work again and every caller goes; then every process refreshes at once, time
    /// passing a second at a time, until each has succeeded (a few rounds at most).
    fn drain(&mut self) {
        self.store.set_store(StoreFault::Works);
        self.callers.clear();
        let mut succeeded = vec![false; self.processes.len()];
        for _round in 0..4 {
            let mut refreshes: Vec<(usize, BoxFuture<'static, Result<()>>)> =
                (0..self.processes.len())
                    .filter(|&p| !succeeded[p])
                    .map(|p| {
                        let credentials = self.process(p);
                        let refresh = async move { credentials.refresh().await.map(drop) }.boxed();
                        (p, refresh)
                    })
                    .collect();
            for _second in 0..(4 * DEADLINE.as_secs()) {
                self.run_spawned();
                refreshes.retain_mut(|(p, refresh)| {
                    match refresh.poll_unpin(&mut Context::from_waker(noop_waker_ref())) {
                        Poll::Ready(result) => {
                            succeeded[*p] |= result.is_ok();
                            false
                        }
                        Poll::Pending => true,
                    }
                });
                self.check();
                if refreshes.is_empty() {
                    break;
                }
                self.clock.advance(Duration::from_secs(1));
            }
            if succeeded.iter().all(|&ok| ok) {
                break;
            }
        }
        assert!(
            succeeded.iter().all(|&ok| ok),
            "every process refreshes once stores work: {succeeded:?}"
        );
        assert_eq!(
            self.store.refresh_token(KEY),
            Some(self.endpoint.current()),
            "the stored refresh token is the endpoint's current one"
        );
        self.run_spawned();
        assert!(self.store.lease_is_free(KEY), "a lease is still held");
    }
}

/// Keeps the output readable: the panics the store raises on purpose are caught by
/// `Credentials`; any other panic is reported.
fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .unwrap_or_default();
            if !message.ends_with(" bug") {
                default(info);
            }
        }));
    });
}

fn cases() -> u32 {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn no_rotation_is_ever_lost(
        processes in 2_usize..4,
        latency in 0_u64..3,
        spawner in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..50),
    ) {
        quiet_deliberate_panics();
        let mut model = Model::new(processes, latency, spawner);
        for step in &steps {
            model.run(step);
        }
        model.drain();
    }
}

#[test]
fn the_model_sees_a_grant_through_to_its_store() {
    let mut model = Model::new(2, 1, false);
    model.run(&Step::Call(0, 0));
    model.run(&Step::Advance(1));
    model.run(&Step::Call(1, 1));
    model.run(&Step::Advance(1));
    model.drain();
    assert_eq!(model.endpoint.presented(), ["rt-0", "rt-1", "rt-2", "rt-3"]);
}
