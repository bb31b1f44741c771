//! Fault injection: random interleavings of callers (some cancelled), sources that answer, fail,
//! hang or panic, storage that fails, hangs or panics, observers that panic, and spawners that
//! run, drop or refuse their futures, all on a `FakeClock` and polled by hand, so every run is
//! deterministic and instant.
//!
//! Invariants checked after every step:
//! - no caller waits past the flight deadline (`refresh()` included: it has one deadline for the
//!   whole call, even when it follows a start-up load with its own fetch);
//! - a token handed out (or reported fresh) is never past its real expiry;
//! - every rotated refresh token handed out went through a completed `store` first;
//! - no panic escapes to a caller;
//! - the source is called at most once per flight.

// Test doubles panic on purpose; setup unwraps.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::http::HeaderMap;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, Error, ErrorKind, MemoryStorage,
    RefreshEvent, Result, Storage, TokenSource, TokenState,
};
use credkit_testing::FakeClock;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::task::noop_waker_ref;
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

const DEADLINE: Duration = Duration::from_secs(60);

/// What one fetch does.
#[derive(Clone, Debug)]
enum Fetch {
    /// A token living `lifetime` seconds, after `delay` seconds, maybe with a rotation.
    Token {
        lifetime: u64,
        delay: u64,
        rotate: bool,
    },
    Transient,
    Permanent,
    Hang,
    Panic,
}

/// What one storage call does.
#[derive(Clone, Copy, Debug)]
enum Store {
    Ok,
    Fail,
    Hang,
    Panic,
    Slow,
}

#[derive(Clone, Copy, Debug)]
enum SpawnMode {
    None,
    Queue,
    Drop,
    Panic,
}

/// One step of the test.
#[derive(Clone, Debug)]
enum Step {
    /// A caller starts: 0 `headers`, 1 `before_request`, 2 `access_token`, 3 `refresh`.
    Call(u8),
    /// Drop the caller at this index (modulo the number waiting).
    Cancel(usize),
    Advance(u64),
    Apply,
    RunSpawned,
    Invalidate,
}

fn fetch() -> impl Strategy<Value = Fetch> {
    prop_oneof![
        4 => (prop_oneof![Just(0_u64), 1_u64..10, 200_u64..400, 3000_u64..4000], 0_u64..5, any::<bool>())
            .prop_map(|(lifetime, delay, rotate)| Fetch::Token { lifetime, delay, rotate }),
        1 => Just(Fetch::Transient),
        1 => Just(Fetch::Permanent),
        1 => Just(Fetch::Hang),
        1 => Just(Fetch::Panic),
    ]
}

fn store() -> impl Strategy<Value = Store> {
    prop_oneof![
        4 => Just(Store::Ok),
        1 => Just(Store::Fail),
        1 => Just(Store::Hang),
        1 => Just(Store::Panic),
        1 => Just(Store::Slow),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0_u8..4).prop_map(Step::Call),
        2 => any::<usize>().prop_map(Step::Cancel),
        3 => prop_oneof![0_u64..3, 0_u64..400, 3000_u64..5000].prop_map(Step::Advance),
        2 => Just(Step::Apply),
        2 => Just(Step::RunSpawned),
        1 => Just(Step::Invalidate),
    ]
}

/// Shared record of what the doubles did.
#[derive(Default)]
struct Log {
    /// The real expiry of every token handed out by the source, by its text.
    expiries: HashMap<String, Option<OffsetDateTime>>,
    /// The refresh token rotated in with each token, by the token's text.
    rotations: HashMap<String, String>,
    /// Refresh tokens that went through a completed (or failed) `store`.
    stored_refresh_tokens: HashSet<String>,
    fetches: usize,
    /// Fetches entered and not yet finished or dropped.
    active: usize,
    events: Vec<RefreshEvent>,
}

/// Counts a fetch as active until it finishes or is dropped.
struct Active(Arc<Mutex<Log>>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.lock().unwrap().active -= 1;
    }
}

#[derive(Debug)]
struct Source {
    clock: FakeClock,
    script: Arc<Mutex<Vec<Fetch>>>,
    log: Arc<Mutex<Log>>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Log")
    }
}

#[async_trait]
impl TokenSource for Source {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = {
            let mut log = self.log.lock().unwrap();
            log.fetches += 1;
            log.active += 1;
            log.fetches
        };
        let _active = Active(Arc::clone(&self.log));
        let behaviour = {
            let mut script = self.script.lock().unwrap();
            if script.is_empty() {
                Fetch::Token {
                    lifetime: 3600,
                    delay: 0,
                    rotate: false,
                }
            } else {
                script.remove(0)
            }
        };
        let sent_at = self.clock.now();
        match behaviour {
            Fetch::Token {
                lifetime,
                delay,
                rotate,
            } => {
                if delay > 0 {
                    self.clock.sleep(Duration::from_secs(delay)).await;
                }
                let text = format!("tok-{n}");
                let mut token = AccessToken::new(text.clone())
                    .with_lifetime(sent_at, Duration::from_secs(lifetime));
                let mut log = self.log.lock().unwrap();
                log.expiries.insert(text.clone(), token.expiry());
                if rotate {
                    let refresh = format!("rt-{n}");
                    log.rotations.insert(text, refresh.clone());
                    token = token.with_rotated_refresh_token(SecretString::from(refresh));
                }
                Ok(token)
            }
            Fetch::Transient => Err(Error::new(ErrorKind::Transport, "reset").with_transient(true)),
            Fetch::Permanent => Err(Error::new(ErrorKind::TokenEndpoint, "invalid_grant")),
            Fetch::Hang => futures::future::pending().await,
            Fetch::Panic => panic!("source bug"),
        }
    }
}

#[derive(Debug)]
struct FaultyStorage {
    clock: FakeClock,
    script: Arc<Mutex<Vec<Store>>>,
    inner: MemoryStorage,
    log: Arc<Mutex<Log>>,
}

impl FaultyStorage {
    fn next(&self) -> Store {
        let mut script = self.script.lock().unwrap();
        if script.is_empty() {
            Store::Ok
        } else {
            script.remove(0)
        }
    }

    async fn behave(&self, behaviour: Store) -> Result<()> {
        match behaviour {
            Store::Ok => Ok(()),
            Store::Fail => Err(Error::new(ErrorKind::Storage, "disk full")),
            Store::Hang => futures::future::pending().await,
            Store::Panic => panic!("storage bug"),
            Store::Slow => {
                self.clock.sleep(Duration::from_secs(2)).await;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Storage for FaultyStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.behave(self.next()).await?;
        self.inner.load(key).await
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        let behaviour = self.next();
        let outcome = match behaviour {
            Store::Panic | Store::Hang => None,
            _ => Some(self.behave(behaviour).await),
        };
        // The store call completed (successfully or not) before anything else happens.
        if let Some(refresh) = record.refresh_token() {
            self.log
                .lock()
                .unwrap()
                .stored_refresh_tokens
                .insert(refresh.expose_secret().to_owned());
        }
        match outcome {
            Some(Ok(())) => self.inner.store(key, record).await,
            Some(Err(error)) => Err(error),
            None => self.behave(behaviour).await,
        }
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }
}

/// A caller waiting for its answer.
struct Waiting {
    started: OffsetDateTime,
    future: BoxFuture<'static, Result<String>>,
}

struct Scenario {
    clock: FakeClock,
    credentials: Credentials,
    log: Arc<Mutex<Log>>,
    queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
    waiting: Vec<Waiting>,
    source_script: Arc<Mutex<Vec<Fetch>>>,
    store_script: Arc<Mutex<Vec<Store>>>,
}

fn bearer_of(headers: &HeaderMap) -> String {
    headers["authorization"]
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned()
}

impl Scenario {
    fn new(
        fetches: Vec<Fetch>,
        stores: Option<Vec<Store>>,
        spawn: SpawnMode,
        panicking_observer: bool,
    ) -> Self {
        let clock = FakeClock::new();
        let log = Arc::new(Mutex::new(Log::default()));
        let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
        let source_script = Arc::new(Mutex::new(fetches));
        let has_storage = stores.is_some();
        let store_script = Arc::new(Mutex::new(stores.unwrap_or_default()));
        let source = Source {
            clock: clock.clone(),
            script: Arc::clone(&source_script),
            log: Arc::clone(&log),
        };
        let events = Arc::clone(&log);
        let mut builder = Credentials::builder(source)
            .with_clock(clock.clone())
            .without_retries()
            .with_flight_deadline(DEADLINE)
            .on_refresh(move |event: &RefreshEvent| {
                events.lock().unwrap().events.push(event.clone());
                assert!(!panicking_observer, "observer bug");
            });
        if has_storage {
            builder = builder.with_storage(
                FaultyStorage {
                    clock: clock.clone(),
                    script: Arc::clone(&store_script),
                    inner: MemoryStorage::new(),
                    log: Arc::clone(&log),
                },
                "key",
            );
        }
        let spawned = Arc::clone(&queue);
        builder = match spawn {
            SpawnMode::None => builder,
            SpawnMode::Queue => builder.with_spawner(move |f| spawned.lock().unwrap().push(f)),
            SpawnMode::Drop => builder.with_spawner(drop),
            SpawnMode::Panic => builder.with_spawner(|_| panic!("spawner bug")),
        };
        Self {
            clock,
            credentials: builder.build().unwrap(),
            log,
            queue,
            waiting: Vec::new(),
            source_script,
            store_script,
        }
    }

    fn run(&mut self, step: &Step) {
        match *step {
            Step::Call(kind) => {
                let credentials = self.credentials.clone();
                let future: BoxFuture<'static, Result<String>> = match kind {
                    0 => async move { credentials.headers().await.map(|h| bearer_of(&h)) }.boxed(),
                    1 => async move {
                        let mut headers = HeaderMap::new();
                        credentials.before_request(&mut headers).await?;
                        Ok(bearer_of(&headers))
                    }
                    .boxed(),
                    2 => async move {
                        let token = credentials.access_token().await?;
                        Ok(token.secret().expose_secret().to_owned())
                    }
                    .boxed(),
                    _ => async move {
                        let token = credentials.refresh().await?;
                        Ok(token.secret().expose_secret().to_owned())
                    }
                    .boxed(),
                };
                self.waiting.push(Waiting {
                    started: self.clock.now(),
                    future,
                });
            }
            Step::Cancel(index) => {
                if !self.waiting.is_empty() {
                    let index = index % self.waiting.len();
                    drop(self.waiting.swap_remove(index));
                }
            }
            Step::Advance(seconds) => self.clock.advance(Duration::from_secs(seconds)),
            Step::Apply => {
                let mut headers = HeaderMap::new();
                if let Ok(state) = self.credentials.apply(&mut headers) {
                    self.check_handed_out(&bearer_of(&headers));
                    assert_ne!(state, TokenState::Invalid);
                }
            }
            Step::RunSpawned => {
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
            Step::Invalidate => {
                if let Some(token) = self.credentials.token() {
                    self.credentials.invalidate_if(&token);
                }
            }
        }
        self.poll_all();
        self.check_state();
    }

    /// Polls every waiting caller until none makes progress; checks what the finished ones got.
    fn poll_all(&mut self) {
        let now = self.clock.now();
        loop {
            let before = self.waiting.len();
            let mut i = 0;
            while i < self.waiting.len() {
                let poll = self.waiting[i]
                    .future
                    .poll_unpin(&mut Context::from_waker(noop_waker_ref()));
                match poll {
                    std::task::Poll::Ready(result) => {
                        drop(self.waiting.swap_remove(i));
                        if let Ok(text) = result {
                            self.check_handed_out(&text);
                        }
                    }
                    std::task::Poll::Pending => i += 1,
                }
            }
            if self.waiting.len() == before {
                break;
            }
        }
        for waiting in &self.waiting {
            assert!(
                now < waiting.started + DEADLINE,
                "a caller waited past the flight deadline"
            );
        }
    }

    /// A token handed out now: not past its real expiry, and any rotation it came with stored.
    fn check_handed_out(&self, text: &str) {
        let log = self.log.lock().unwrap();
        if let Some(Some(expiry)) = log.expiries.get(text) {
            assert!(
                *expiry > self.clock.now(),
                "{text} handed out past its expiry"
            );
        }
        if let Some(refresh) = log.rotations.get(text) {
            assert!(
                log.stored_refresh_tokens.contains(refresh) || !self.has_storage(),
                "{text} handed out before its rotated refresh token went to storage"
            );
        }
    }

    fn has_storage(&self) -> bool {
        format!("{:?}", self.credentials).contains("storage_key: Some")
    }

    fn check_state(&self) {
        if self.credentials.token_state() == TokenState::Fresh
            && let Some(token) = self.credentials.token()
        {
            let text = token.secret().expose_secret().to_owned();
            let log = self.log.lock().unwrap();
            if let Some(Some(expiry)) = log.expiries.get(&text) {
                assert!(
                    *expiry > self.clock.now(),
                    "{text} reported fresh past expiry"
                );
            }
        }
        // At most one fetch per flight, and a flight replaced past its deadline has its fetch
        // dropped: once everything holding a flight was polled, one fetch at most is running
        // (the current flight's). A queued background refresh not yet run may still hold an
        // old one.
        let log = self.log.lock().unwrap();
        let queued = self.queue.lock().unwrap().len();
        assert!(
            log.active <= 1 + queued,
            "{} fetches running at once, {queued} queued",
            log.active
        );
    }
}

fn run_scenario(
    fetches: Vec<Fetch>,
    stores: Option<Vec<Store>>,
    spawn: SpawnMode,
    panicking_observer: bool,
    steps: &[Step],
) {
    let mut scenario = Scenario::new(fetches, stores, spawn, panicking_observer);
    for step in steps {
        scenario.run(step);
    }
    // Finally everyone gets an answer within the deadline.
    scenario.clock.advance(2 * DEADLINE);
    scenario.run(&Step::RunSpawned);
    assert!(
        scenario.waiting.is_empty(),
        "{} callers still waiting after the deadline",
        scenario.waiting.len()
    );
    // And once the source and the storage are healthy again, the next caller gets a token at
    // once: nothing that happened before wedged the cache.
    scenario.source_script.lock().unwrap().clear();
    scenario.store_script.lock().unwrap().clear();
    let mut headers = HeaderMap::new();
    let next = futures::executor::block_on(scenario.credentials.before_request(&mut headers));
    assert!(
        next.is_ok(),
        "a healthy source serves the next caller: {next:?}"
    );
}

fn spawn_mode() -> impl Strategy<Value = SpawnMode> {
    prop_oneof![
        Just(SpawnMode::None),
        Just(SpawnMode::Queue),
        Just(SpawnMode::Drop),
        Just(SpawnMode::Panic),
    ]
}

/// Keeps the test's output readable: the panics the doubles raise on purpose are caught by
/// `Credentials`, so the default hook's report of each is noise. Any other panic is reported.
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn credentials_keep_their_promises_under_faults(
        fetches in proptest::collection::vec(fetch(), 0..12),
        stores in proptest::option::of(proptest::collection::vec(store(), 0..12)),
        spawn in spawn_mode(),
        panicking_observer in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        quiet_deliberate_panics();
        run_scenario(fetches, stores, spawn, panicking_observer, &steps);
    }
}
