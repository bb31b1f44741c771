//! The blocking API: from a plain thread, inside a multi-thread and a current-thread tokio
//! runtime, from 64 threads at once with one refresh, errors typed, ADC from files over
//! loopback, the hot path without the runtime, refresh ahead in the background, timeouts and
//! re-entry. Token servers run on a runtime of the test's own, so no test waits on the runtime
//! it blocks.
#![cfg(all(feature = "blocking", feature = "refresh-token"))]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit::blocking;
use credkit::core::secrecy::ExposeSecret;
use credkit::core::{
    AccessToken, Clock, ErrorKind, RefreshEvent, TokenSource, TokenState, Transport,
};
use credkit::reqwest::ReqwestTransport;
use credkit_testing::{AdcEnv, FakeClock, FakeTokenServer, Reply, ScriptedSource};

const USER_FILE: &str = r#"{"client_id": "123.apps.googleusercontent.com", "client_secret": "secret", "refresh_token": "1//rt", "type": "authorized_user"}"#;

/// How long a test waits for work that must finish before it calls it a hang.
const GUARD: Duration = Duration::from_secs(60);

/// A `FakeTokenServer` on a runtime of its own (two threads), so that it answers whatever the
/// test's threads and runtimes are doing.
struct Server {
    server: Option<FakeTokenServer>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // On a thread of its own: a test may start it inside an async body, where
        // `block_on` is refused.
        let handle = runtime.handle().clone();
        let server = thread::scope(|scope| {
            scope
                .spawn(|| handle.block_on(FakeTokenServer::start()))
                .join()
                .unwrap()
        })
        .unwrap();
        Self {
            server: Some(server),
            runtime: Some(runtime),
        }
    }

    fn get(&self) -> &FakeTokenServer {
        self.server.as_ref().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.server.take());
        // Without waiting: a test may drop it inside an async body.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Sends every request to the fake token server, path kept, over real loopback HTTP: an
/// `authorized_user` file's endpoint is always Google's, whatever its `token_uri`.
#[derive(Debug)]
struct ToLoopback {
    base: String,
    reqwest: ReqwestTransport,
}

impl ToLoopback {
    fn new(server: &FakeTokenServer) -> Self {
        Self {
            base: server.url(),
            reqwest: ReqwestTransport::new().unwrap(),
        }
    }
}

#[async_trait]
impl Transport for ToLoopback {
    async fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> credkit::Result<http::Response<Bytes>> {
        let path = request.uri().path().to_owned();
        *request.uri_mut() = format!("{}{path}", self.base).parse().unwrap();
        self.reqwest.send(request).await
    }
}

/// ADC over an `authorized_user` file named by `GOOGLE_APPLICATION_CREDENTIALS`, the metadata
/// server at a closed loopback port, refreshed at `server` over loopback.
fn user_adc(env: &AdcEnv, server: &FakeTokenServer) -> blocking::Adc {
    blocking::Adc::from(
        credkit::Adc::new()
            .with_env(env.lookup())
            .with_transport(ToLoopback::new(server)),
    )
}

fn user_env() -> AdcEnv {
    AdcEnv::new()
        .with_credentials_file(USER_FILE)
        .with_var("GOOGLE_CLOUD_PROJECT", "blocking-project")
}

fn bearer(headers: &http::HeaderMap) -> &str {
    headers["authorization"].to_str().unwrap()
}

/// Runs `body` on a thread of its own and fails the test if it has not finished within
/// [`GUARD`]: a deadlock fails instead of hanging the run.
fn guarded<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || done.send(body()).unwrap());
    finished
        .recv_timeout(GUARD)
        .unwrap_or_else(|_| panic!("the blocking call did not finish within {GUARD:?}"))
}

/// A source that reports, on each fetch, the name of the thread it runs on.
#[derive(Debug)]
struct Reporting {
    inner: ScriptedSource,
    threads: std::sync::Mutex<mpsc::Sender<Option<String>>>,
}

impl Reporting {
    fn new(inner: ScriptedSource) -> (Self, mpsc::Receiver<Option<String>>) {
        let (sender, receiver) = mpsc::channel();
        let source = Self {
            inner,
            threads: std::sync::Mutex::new(sender),
        };
        (source, receiver)
    }
}

#[async_trait]
impl TokenSource for Reporting {
    async fn fetch_token(&self) -> credkit::Result<AccessToken> {
        let name = thread::current().name().map(str::to_owned);
        self.threads.lock().unwrap().send(name).unwrap();
        self.inner.fetch_token().await
    }
}

#[test]
fn from_a_plain_thread_the_first_call_refreshes_and_the_next_are_cached() {
    let server = Server::start();
    server
        .get()
        .push_replies([Reply::token("ya29.plain"), Reply::token("ya29.second")]);
    let env = user_env();
    let credentials = user_adc(&env, server.get()).credentials().unwrap();
    assert_eq!(credentials.token_state(), TokenState::Invalid);

    let headers = credentials.headers().unwrap();
    assert_eq!(bearer(&headers), "Bearer ya29.plain");
    let token = credentials.access_token().unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.plain");
    assert!(token.expiry().is_some(), "the token comes with its expiry");
    for _ in 0..100 {
        assert_eq!(bearer(&credentials.headers().unwrap()), "Bearer ya29.plain");
    }
    assert_eq!(server.get().request_count(), 1);
    let form = &server.get().requests()[0];
    assert_eq!(form.form_value("grant_type"), Some("refresh_token"));

    // `refresh` always fetches, and the async credentials underneath share the cache.
    let refreshed = credentials.refresh().unwrap();
    assert_eq!(refreshed.secret().expose_secret(), "ya29.second");
    assert_eq!(server.get().request_count(), 2);
    let cached = credentials.as_async().token().unwrap();
    assert!(Arc::ptr_eq(&cached, &refreshed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_multi_thread_runtime_a_blocking_call_neither_panics_nor_hangs() {
    let server = Server::start();
    server.get().push_reply(Reply::token("ya29.multi"));
    let env = user_env();
    // Straight in the async body, on a worker of this runtime: discovery and the refresh run
    // on the blocking runtime, not here.
    let credentials = user_adc(&env, server.get()).credentials().unwrap();
    let headers = credentials.headers().unwrap();
    assert_eq!(bearer(&headers), "Bearer ya29.multi");
    assert_eq!(
        user_adc(&env, server.get()).project_id().unwrap(),
        "blocking-project"
    );
    // The async API on the same cache, in the same task.
    let token = credentials.as_async().access_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.multi");
    assert_eq!(server.get().request_count(), 1);
}

#[test]
fn inside_a_current_thread_runtime_a_blocking_call_completes() {
    let server = Server::start();
    server.get().push_reply(Reply::token("ya29.current"));
    let env = user_env();
    let adc = user_adc(&env, server.get());
    // The naive wrapper deadlocks or panics here: the runtime's only thread is the caller.
    let value = guarded(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let credentials = adc.credentials().unwrap();
            let headers = credentials.headers().unwrap();
            bearer(&headers).to_owned()
        })
    });
    assert_eq!(value, "Bearer ya29.current");
    assert_eq!(server.get().request_count(), 1);
}

#[test]
fn with_handle_of_the_callers_own_current_thread_runtime_fails_at_once_instead_of_hanging() {
    let clock = FakeClock::new();
    let source = ScriptedSource::new(&clock);
    let fresh =
        AccessToken::new("ya29.seeded").with_lifetime(clock.now(), Duration::from_secs(3600));
    let async_credentials = credkit::Credentials::builder(source.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_initial_token(fresh)
        .build()
        .unwrap();
    let outcome = guarded(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let credentials = blocking::Credentials::from(async_credentials)
                .with_handle(tokio::runtime::Handle::current());
            // A fresh token is served: nothing waits.
            let served = credentials.headers().map(|h| bearer(&h).to_owned());
            // A refresh would need this very thread to run it.
            let refused = credentials.refresh().unwrap_err();
            (served, refused)
        })
    });
    assert_eq!(outcome.0.unwrap(), "Bearer ya29.seeded");
    assert_eq!(outcome.1.kind(), ErrorKind::Configuration);
    assert!(
        outcome.1.to_string().contains("with_handle"),
        "{}",
        outcome.1
    );
    assert_eq!(source.fetches(), 0);
}

#[test]
fn sixty_four_threads_at_once_share_one_refresh() {
    const THREADS: usize = 64;
    const CALLS: usize = 50;
    let server = Server::start();
    // Slow enough that the threads pile up on the one refresh.
    server
        .get()
        .push_reply(Reply::token("ya29.shared").with_delay(Duration::from_millis(100)));
    let env = user_env();
    let credentials = user_adc(&env, server.get()).credentials().unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let credentials = credentials.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut seen = Vec::with_capacity(CALLS);
                for call in 0..CALLS {
                    let value = if (i + call) % 2 == 0 {
                        bearer(&credentials.headers().unwrap()).to_owned()
                    } else {
                        let token = credentials.access_token().unwrap();
                        format!("Bearer {}", token.secret().expose_secret())
                    };
                    seen.push(value);
                }
                seen
            })
        })
        .collect();
    let mut calls = 0;
    for thread in threads {
        for value in thread.join().unwrap() {
            assert_eq!(value, "Bearer ya29.shared");
            calls += 1;
        }
    }
    assert_eq!(calls, THREADS * CALLS);
    assert_eq!(
        server.get().request_count(),
        1,
        "one refresh for every caller"
    );
}

#[test]
fn errors_come_through_typed() {
    let server = Server::start();
    server.get().push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let env = user_env();
    let credentials = user_adc(&env, server.get()).credentials().unwrap();
    let err = credentials.headers().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_transient());
    assert!(
        err.to_string()
            .contains("invalid_grant: Token has been expired or revoked."),
        "{err}"
    );
    let err = credentials.access_token().unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));

    // Discovery's errors too: nothing configured in an empty environment.
    let nothing = AdcEnv::new();
    let err = blocking::Adc::from(credkit::Adc::new().with_env(nothing.lookup()))
        .credentials()
        .unwrap_err();
    assert!(err.is_not_configured());
    assert!(
        err.to_string()
            .starts_with("Your default credentials were not found.")
    );
}

#[test]
fn adc_from_an_authorized_user_file_refreshes_over_loopback() {
    let server = Server::start();
    server.get().push_reply(Reply::token("ya29.adc"));
    let env = user_env();
    let adc = user_adc(&env, server.get());
    let found = adc.discover().unwrap();
    assert_eq!(found.credential_type(), "authorized_user");
    assert!(
        found.origin().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{}",
        found.origin()
    );
    let credentials = adc.credentials().unwrap();
    // Discovered on the blocking runtime: its spawner runs the refreshes ahead.
    let shown = format!("{credentials:?}");
    assert!(shown.contains("spawner: true"), "{shown}");
    let token = credentials.access_token().unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.adc");
    assert_eq!(adc.project_id().unwrap(), "blocking-project");
    let request = &server.get().requests()[0];
    assert_eq!(request.form_value("refresh_token"), Some("1//rt"));
    assert_eq!(
        request.form_value("client_id"),
        Some("123.apps.googleusercontent.com")
    );
}

#[cfg(feature = "service-account")]
#[test]
fn adc_with_the_default_transport_refreshes_on_the_blocking_runtime() {
    // A key file names its token endpoint: the default (reqwest) transport, which lives on the
    // blocking runtime, reaches the loopback server with no transport given.
    let server = Server::start();
    let key = credkit_testing::TestKey::generate().unwrap();
    server.get().push_reply(Reply::token("ya29.key"));
    let env = AdcEnv::new().with_credentials_file(
        &key.service_account_json("robot@p.iam.gserviceaccount.com", &server.get().token_url()),
    );
    let adc = blocking::Adc::from(
        credkit::Adc::new()
            .with_env(env.lookup())
            .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]),
    );
    let credentials = adc.credentials().unwrap();
    assert_eq!(bearer(&credentials.headers().unwrap()), "Bearer ya29.key");
    assert_eq!(
        server.get().requests()[0].form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
}

#[test]
fn a_fresh_token_is_served_without_the_runtime() {
    // A runtime that no longer runs: any work handed to it is dropped.
    let dead = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handle = dead.handle().clone();
    drop(dead);
    let clock = FakeClock::new();
    let source = ScriptedSource::new(&clock);
    let fresh =
        AccessToken::new("ya29.fresh").with_lifetime(clock.now(), Duration::from_secs(3600));
    let credentials = blocking::Credentials::from(
        credkit::Credentials::builder(source.clone())
            .with_clock(Arc::new(clock.clone()))
            .with_initial_token(fresh)
            .build()
            .unwrap(),
    )
    .with_handle(handle);

    assert_eq!(bearer(&credentials.headers().unwrap()), "Bearer ya29.fresh");
    assert_eq!(
        credentials.access_token().unwrap().secret().expose_secret(),
        "ya29.fresh"
    );
    let mut headers = http::HeaderMap::new();
    credentials.before_request(&mut headers).unwrap();
    assert_eq!(bearer(&headers), "Bearer ya29.fresh");

    // Once it expired the call must wait for a refresh, and the dead runtime is reported.
    clock.advance(Duration::from_secs(3600));
    let err = credentials.headers().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("shut down"), "{err}");
    assert_eq!(source.fetches(), 0);
}

#[test]
fn a_stale_token_is_served_at_once_while_the_blocking_runtime_refreshes_it() {
    let clock = FakeClock::new();
    let scripted = ScriptedSource::new(&clock).then_token("ya29.next", Duration::from_secs(3600));
    let (source, threads) = Reporting::new(scripted.clone());
    let stale =
        AccessToken::new("ya29.stale").with_lifetime(clock.now(), Duration::from_secs(3600));
    let (refreshed, published) = mpsc::channel();
    // No spawner of its own: the blocking credentials run the refresh ahead themselves.
    let credentials = blocking::Credentials::from(
        credkit::Credentials::builder(source)
            .with_clock(Arc::new(clock.clone()))
            .with_initial_token(stale)
            .on_refresh(move |event: &RefreshEvent| {
                if matches!(event, RefreshEvent::Refreshed { .. }) {
                    let _ = refreshed.send(());
                }
            })
            .build()
            .unwrap(),
    );
    clock.advance(Duration::from_secs(3600 - 100));
    assert_eq!(credentials.token_state(), TokenState::Stale);

    assert_eq!(bearer(&credentials.headers().unwrap()), "Bearer ya29.stale");
    let fetched_on = threads.recv_timeout(GUARD).unwrap();
    assert_eq!(fetched_on.as_deref(), Some("credkit-blocking"));
    published.recv_timeout(GUARD).unwrap();
    let token = credentials.access_token().unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.next");
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(scripted.fetches(), 1);
}

#[test]
fn a_refresh_runs_on_the_blocking_runtime_not_on_the_caller() {
    let clock = FakeClock::new();
    let (source, threads) = Reporting::new(ScriptedSource::new(&clock));
    let credentials = blocking::Credentials::from(
        credkit::Credentials::builder(source)
            .with_clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    );
    let token = credentials.access_token().unwrap();
    assert_eq!(token.secret().expose_secret(), "scripted-token-1");
    assert_eq!(
        threads.try_recv().unwrap().as_deref(),
        Some("credkit-blocking")
    );
}

#[test]
fn with_timeout_gives_up_on_a_hung_refresh_with_a_transient_timeout() {
    let clock = FakeClock::new();
    let source = ScriptedSource::new(&clock).then_hang();
    let credentials = blocking::Credentials::from(
        credkit::Credentials::builder(source.clone())
            .with_clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    )
    .with_timeout(Duration::from_millis(50));
    assert_eq!(credentials.timeout(), Some(Duration::from_millis(50)));
    let err = credentials.headers().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_transient());
    assert!(err.to_string().contains("with_timeout"), "{err}");
    assert_eq!(source.fetches(), 1);
}

/// A source whose fetch asks other blocking credentials for their token: blocking code
/// reached from inside a refresh, on a worker of the blocking runtime.
#[derive(Debug)]
struct Nested(blocking::Credentials);

#[async_trait]
impl TokenSource for Nested {
    async fn fetch_token(&self) -> credkit::Result<AccessToken> {
        let inner = self.0.access_token()?;
        Ok(AccessToken::new(format!(
            "outer-of-{}",
            inner.secret().expose_secret()
        )))
    }
}

#[test]
fn a_blocking_call_from_inside_a_refresh_on_the_blocking_runtime_completes() {
    let token = guarded(|| {
        // More nested refreshes at once than the runtime has workers.
        let outer: Vec<_> = (0..4)
            .map(|i| {
                let clock = FakeClock::new();
                let inner = blocking::Credentials::from(
                    credkit::Credentials::builder(
                        ScriptedSource::new(&clock)
                            .then_token(format!("inner-{i}"), Duration::from_secs(3600)),
                    )
                    .with_clock(Arc::new(clock))
                    .build()
                    .unwrap(),
                );
                blocking::Credentials::from(credkit::Credentials::new(Nested(inner)))
            })
            .collect();
        let threads: Vec<_> = outer
            .into_iter()
            .map(|credentials| thread::spawn(move || credentials.access_token()))
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap()
                    .unwrap()
                    .secret()
                    .expose_secret()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(
        token,
        [
            "outer-of-inner-0",
            "outer-of-inner-1",
            "outer-of-inner-2",
            "outer-of-inner-3"
        ]
    );
}

#[test]
fn the_spawner_refreshes_ahead_on_the_blocking_runtime() {
    let clock = FakeClock::new();
    let scripted = ScriptedSource::new(&clock).then_token("ya29.ahead", Duration::from_secs(3600));
    let (source, threads) = Reporting::new(scripted);
    let stale =
        AccessToken::new("ya29.stale").with_lifetime(clock.now(), Duration::from_secs(3600));
    let credentials = credkit::Credentials::builder(source)
        .with_clock(Arc::new(clock.clone()))
        .with_initial_token(stale)
        .with_spawner(blocking::spawner().unwrap())
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(3600 - 100));
    // The async credentials' own synchronous `apply` hands the refresh to the spawner.
    let mut headers = http::HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Stale);
    assert_eq!(
        threads.recv_timeout(GUARD).unwrap().as_deref(),
        Some("credkit-blocking")
    );
}

#[test]
fn debug_shows_the_settings_and_no_secret() {
    let credentials = blocking::Credentials::from(credkit::Credentials::new(
        credkit::core::StaticSource::new(AccessToken::new("ya29.secret-value")),
    ))
    .with_timeout(Duration::from_secs(5));
    credentials.refresh().unwrap();
    let shown = format!("{credentials:?}");
    assert!(!shown.contains("ya29.secret-value"), "{shown}");
    assert!(shown.contains("timeout: Some(5s)"), "{shown}");
    assert!(shown.contains("own_runtime: false"), "{shown}");
    let adc = format!("{:?}", blocking::Adc::new());
    assert!(adc.starts_with("Adc"), "{adc}");
}

#[test]
fn with_handle_runs_the_refreshes_on_the_given_runtime_even_when_called_from_its_workers() {
    let user = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("user-runtime")
        .enable_all()
        .build()
        .unwrap();
    let clock = FakeClock::new();
    let (source, threads) = Reporting::new(ScriptedSource::new(&clock));
    let credentials = blocking::Credentials::from(
        credkit::Credentials::builder(source)
            .with_clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    )
    .with_handle(user.handle().clone());

    // From a plain thread.
    let first = credentials.access_token().unwrap();
    assert_eq!(first.secret().expose_secret(), "scripted-token-1");
    assert_eq!(threads.try_recv().unwrap().as_deref(), Some("user-runtime"));

    // From the runtime's only worker, which must hand its tasks over to let the refresh run.
    let on_worker = credentials.clone();
    let second = guarded(move || {
        let outcome = user.block_on(async move {
            tokio::spawn(async move { on_worker.refresh() })
                .await
                .unwrap()
        });
        user.shutdown_background();
        outcome
    })
    .unwrap();
    assert_eq!(second.secret().expose_secret(), "scripted-token-2");
    assert_eq!(threads.try_recv().unwrap().as_deref(), Some("user-runtime"));
}

#[test]
fn the_blocking_adcs_settings_reach_discovery_and_the_credentials_it_makes() {
    let server = Server::start();
    server.get().push_reply(Reply::token("ya29.settings"));
    let env = user_env();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let adc = user_adc(&env, server.get())
        .with_timeout(Duration::from_secs(30))
        .with_handle(runtime.handle().clone());
    // The async discovery underneath is the one configured: its environment, not the process's.
    let project = runtime.block_on(adc.as_async().project_id()).unwrap();
    assert_eq!(project, "blocking-project");
    let credentials = adc.credentials().unwrap();
    assert_eq!(credentials.timeout(), Some(Duration::from_secs(30)));
    let shown = format!("{credentials:?}");
    assert!(shown.contains("own_runtime: true"), "{shown}");
    assert_eq!(
        credentials.access_token().unwrap().secret().expose_secret(),
        "ya29.settings"
    );
    // The given runtime does the work: once it is gone, a refresh says so.
    drop(runtime);
    let err = credentials.refresh().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("with_handle"), "{err}");
}
