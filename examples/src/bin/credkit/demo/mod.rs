//! `credkit demo`: the library at work against a fake token endpoint on 127.0.0.1.
//!
//! The endpoint's replies are scripted up front, in the order the steps make their requests,
//! and every step checks what it shows (the server's own request count, the refresh token it
//! received), so a demo that exits 0 has demonstrated each claim. Nothing leaves the machine and
//! no secret is printed: tokens are compared, never shown.

mod report;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use credkit_core::http::HeaderMap;
use credkit_core::http::header::AUTHORIZATION;
use credkit_core::{AccessToken, Credentials, RefreshEvent, RetryPolicy, TokenState};
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeTokenServer, Reply};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use tokio::task::JoinSet;

use crate::cli::DemoArgs;
use crate::failure::Failure;
use crate::output;
use report::{Fact, Step, StepJson, duration, grouped, millis, rate};

/// The scope the demo's credentials request (the fake endpoint grants what is asked).
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The refresh token in the demo's file. A made-up value, compared but never printed.
const FILE_REFRESH_TOKEN: &str = "1//demo-refresh-token";

/// How long the endpoint takes to answer the single-flight refresh, so that every caller
/// arrives while it is in flight.
const SINGLE_FLIGHT_DELAY: Duration = Duration::from_millis(200);

/// The first retry's wait in the demo (the default is about 1 s), so the demo stays quick.
const RETRY_WAIT: Duration = Duration::from_millis(100);

/// The hot path stops after this long even before its count of calls, so that a slow (debug)
/// build keeps the demo short.
const HOT_PATH_BUDGET: Duration = Duration::from_secs(1);

/// How many hot-path calls run between two looks at the time.
const HOT_PATH_BATCH: u64 = 10_000;

/// The reference's message for a revoked refresh token.
const REVOKED: &str = "Token has been expired or revoked.";

/// How many steps the demo has.
const STEPS: usize = 6;

/// Runs the demo: prints each step as it completes, or one JSON document at the end.
///
/// # Errors
///
/// The fake endpoint or the temporary file cannot be set up, or a step did not show what it
/// should (a bug: the message says which step and what was seen).
pub(crate) async fn run(args: &DemoArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let server = FakeTokenServer::start()
        .await
        .map_err(|err| Failure::new(format!("could not start the fake token endpoint: {err}")))?;
    server.push_replies(script());
    let dir = tempfile::Builder::new()
        .prefix("credkit-demo-")
        .tempdir()
        .map_err(|err| Failure::new(format!("could not create a temporary folder: {err}")))?;
    let file = dir.path().join("authorized_user.json");
    write_credentials_file(&file, &server.token_url())?;

    let rotations = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&rotations);
    // The file's token_uri is ignored, as in the reference; with_token_uri is the override that
    // `credkit token --token-uri` uses too.
    let user = UserCredentials::from_authorized_user_file(&file, Some(vec![SCOPE.to_owned()]))?
        .to_builder()
        .with_token_uri(server.token_url())
        .with_transport(ReqwestTransport::new()?)
        .build()?;
    let credentials = Credentials::builder(user.clone())
        .with_retry_policy(RetryPolicy::default().with_initial_wait(RETRY_WAIT))
        .on_refresh(move |event| {
            if let RefreshEvent::Refreshed {
                rotated_refresh_token: true,
                ..
            } = event
            {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()?;
    let demo = Demo {
        server,
        credentials,
        user,
        rotations,
    };

    if !args.json {
        output::print(&intro(&demo.server.token_url(), &file))?;
    }
    let mut steps = Vec::with_capacity(STEPS);
    let mut emit = |step: Step| -> Result<(), Failure> {
        if !args.json {
            output::print(&step.human(steps.len() + 1, STEPS))?;
            output::print("\n")?;
        }
        steps.push(step);
        Ok(())
    };
    let (step, headers) = demo.first_refresh().await?;
    emit(step)?;
    emit(demo.hot_path(args.calls)?)?;
    emit(demo.single_flight(&headers, args.callers).await?)?;
    emit(demo.rotation().await?)?;
    emit(demo.transient_failure().await?)?;
    emit(demo.permanent_failure().await?)?;

    let requests = demo.server.request_count();
    let elapsed = started.elapsed();
    if args.json {
        let document = Document {
            token_endpoint: demo.server.token_url(),
            credentials_file: file.display().to_string(),
            build: build(),
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, s)| s.json(i + 1))
                .collect(),
            token_endpoint_requests: requests,
            total_millis: millis(elapsed),
            secrets_printed: 0,
        };
        let text = serde_json::to_string_pretty(&document)
            .map_err(|err| Failure::new(format!("could not write the JSON document: {err}")))?;
        output::print(&format!("{text}\n"))?;
    } else {
        output::print(&format!(
            "Done in {}: {requests} requests to the token endpoint, {STEPS} steps checked, no secret printed.\n",
            duration(elapsed),
        ))?;
    }
    Ok(())
}

/// `demo --json`: one document, its fields in this order.
#[derive(Debug, Serialize)]
struct Document<'a> {
    /// The fake endpoint's URL.
    token_endpoint: String,
    /// The temporary `authorized_user` file (deleted when the demo ends).
    credentials_file: String,
    /// `debug` or `release`.
    build: &'static str,
    /// The steps, in order.
    steps: Vec<StepJson<'a>>,
    /// Every request the endpoint received.
    token_endpoint_requests: usize,
    /// The whole demo, setup included.
    total_millis: f64,
    /// Always 0: the demo compares tokens, never shows them.
    secrets_printed: u32,
}

/// The endpoint's replies, in the order the steps ask for them. The last one repeats.
fn script() -> Vec<Reply> {
    vec![
        // 1. The first refresh.
        Reply::default_token(),
        // 3. Single flight: slow, so that every caller arrives while it is in flight.
        Reply::default_token().with_delay(SINGLE_FLIGHT_DELAY),
        // 4. A rotation, then the refresh that must send the rotated refresh token.
        Reply::rotating_token(),
        Reply::default_token(),
        // 5. A proxy's HTML error page, then success.
        Reply::html(
            503,
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
        ),
        Reply::default_token(),
        // 6. A revoked refresh token.
        Reply::oauth_error(400, "invalid_grant", Some(REVOKED)),
        Reply::default_token(),
    ]
}

/// Writes an `authorized_user` file whose `token_uri` points at the fake endpoint.
fn write_credentials_file(path: &Path, token_uri: &str) -> Result<(), Failure> {
    let info = json!({
        "type": "authorized_user",
        "client_id": "credkit-demo.apps.googleusercontent.com",
        "client_secret": "demo-client-secret",
        "refresh_token": FILE_REFRESH_TOKEN,
        "token_uri": token_uri,
        "quota_project_id": "credkit-demo",
    });
    std::fs::write(path, info.to_string()).map_err(|err| {
        Failure::new(format!(
            "could not write the demo's credentials file {}: {err}",
            path.display()
        ))
    })
}

fn intro(endpoint: &str, file: &Path) -> String {
    format!(
        "credkit demo: the caching layer over refresh-token credentials, against a fake token endpoint.\n\
         \x20 token endpoint    {endpoint} (in this process; nothing leaves the machine)\n\
         \x20 credentials file  {} (temporary, made-up secrets, deleted at the end)\n\
         \x20 secrets printed   none: tokens are compared, never shown\n\n",
        file.display()
    )
}

/// The headers' names, with the quota project shown and the token hidden.
fn shown_headers(headers: &HeaderMap) -> String {
    let mut shown: Vec<String> = headers
        .iter()
        .map(|(name, value)| {
            if name == AUTHORIZATION {
                format!("{name}: Bearer <hidden>")
            } else {
                format!("{name}: {}", value.to_str().unwrap_or("<not text>"))
            }
        })
        .collect();
    shown.sort();
    shown.join(", ")
}

/// `debug` or `release`: the hot path's figures depend on it.
fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// What the steps share.
struct Demo {
    server: FakeTokenServer,
    credentials: Credentials,
    /// A clone of the source inside `credentials`: it shares the rotated refresh token.
    user: UserCredentials,
    /// How many refreshes rotated the refresh token, as the `on_refresh` observer saw them.
    rotations: Arc<AtomicUsize>,
}

impl Demo {
    /// Fails the demo unless `holds`: a step did not show what it claims.
    fn check(step: &str, holds: bool, what: impl FnOnce() -> String) -> Result<(), Failure> {
        if holds {
            Ok(())
        } else {
            Err(Failure::new(format!("demo step {step}: {}", what())))
        }
    }

    /// The requests the server received since `before`.
    fn requests_since(&self, before: usize) -> usize {
        self.server.request_count().saturating_sub(before)
    }

    async fn first_refresh(&self) -> Result<(Step, HeaderMap), Failure> {
        let before = self.server.request_count();
        let started = Instant::now();
        let headers = self.credentials.headers().await?;
        let elapsed = started.elapsed();
        let requests = self.requests_since(before);
        let state = self.credentials.token_state();
        Self::check("first refresh", requests == 1, || {
            format!("expected 1 request, the endpoint received {requests}")
        })?;
        let mut facts = vec![
            Fact::count("requests", "requests to the endpoint", 1),
            Fact::text("token_state", "token state", state.as_str()),
        ];
        if let Some(expiry) = self.credentials.expiry() {
            let minutes = ((expiry - OffsetDateTime::now_utc()).whole_seconds() + 30) / 60;
            let at = expiry
                .to_offset(UtcOffset::UTC)
                .replace_nanosecond(0)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default();
            facts.push(Fact::new(
                "expiry",
                "expires",
                format!("{at} (in {minutes} min)"),
                at,
            ));
        }
        if let Some(granted) = self.user.granted_scopes() {
            facts.push(Fact::new(
                "granted_scopes",
                "granted scopes",
                granted.join(" "),
                granted,
            ));
        }
        facts.push(Fact::text("headers", "headers", shown_headers(&headers)));
        let step = Step {
            key: "first_refresh",
            title: "First refresh",
            explanation: "No token is cached yet: the first call runs the refresh-token grant and waits for it.".to_owned(),
            elapsed,
            facts,
        };
        Ok((step, headers))
    }

    fn hot_path(&self, max_calls: u64) -> Result<Step, Failure> {
        let before = self.server.request_count();
        let mut headers = HeaderMap::with_capacity(2);
        let mut not_fresh = 0_u64;
        let mut calls = 0_u64;
        let started = Instant::now();
        while calls < max_calls {
            let batch = HOT_PATH_BATCH.min(max_calls - calls);
            for _ in 0..batch {
                let state = self.credentials.apply(std::hint::black_box(&mut headers));
                if !matches!(std::hint::black_box(state), Ok(TokenState::Fresh)) {
                    not_fresh += 1;
                }
            }
            calls += batch;
            if started.elapsed() >= HOT_PATH_BUDGET {
                break;
            }
        }
        let elapsed = started.elapsed();
        let requests = self.requests_since(before);
        Self::check("hot path", not_fresh == 0 && requests == 0, || {
            format!("{not_fresh} calls did not find a fresh token; {requests} requests were made")
        })?;
        // Counts up to a billion: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let calls_f = calls as f64;
        let per_second = calls_f / elapsed.as_secs_f64().max(1e-9);
        let nanos = elapsed.as_secs_f64() * 1e9 / calls_f;
        let mut build_note = build().to_owned();
        if cfg!(debug_assertions) {
            build_note.push_str(" (run with --release for representative figures)");
        }
        Ok(Step {
            key: "hot_path",
            title: "Cached hot path",
            explanation: "While the token is fresh, apply() writes the cached headers: an atomic load, no lock, no allocation, no request.".to_owned(),
            elapsed,
            facts: vec![
                Fact::new(
                    "calls",
                    "calls to apply()",
                    if calls < max_calls {
                        format!("{} (of {} asked: stopped after {})", grouped(calls), grouped(max_calls), duration(HOT_PATH_BUDGET))
                    } else {
                        grouped(calls)
                    },
                    calls,
                ),
                Fact::new("calls_per_second", "rate", rate(per_second), per_second.round()),
                Fact::new("nanos_per_call", "per call", format!("{nanos:.0} ns"), (nanos * 10.0).round() / 10.0),
                Fact::count("requests", "requests to the endpoint", 0),
                Fact::new("build", "build", build_note, build()),
            ],
        })
    }

    async fn single_flight(&self, headers: &HeaderMap, callers: u32) -> Result<Step, Failure> {
        // As after a 401: drop the token the request carried, so the next call must refresh.
        self.credentials.invalidate_if(headers);
        let before = self.server.request_count();
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..callers {
            let credentials = self.credentials.clone();
            tasks.spawn(async move { credentials.access_token().await });
        }
        let mut first: Option<Arc<AccessToken>> = None;
        let mut same = true;
        while let Some(joined) = tasks.join_next().await {
            let token =
                joined.map_err(|err| Failure::new(format!("a caller task failed: {err}")))??;
            match &first {
                Some(first) => same &= Arc::ptr_eq(first, &token),
                None => first = Some(token),
            }
        }
        let elapsed = started.elapsed();
        let requests = self.requests_since(before);
        Self::check("single flight", requests == 1 && same, || {
            format!(
                "{callers} callers caused {requests} requests (expected 1); same token for all: {same}"
            )
        })?;
        Ok(Step {
            key: "single_flight",
            title: "Single flight",
            explanation: format!(
                "The token is dropped (as after a 401) and {} tasks ask for one at once: they share one refresh.",
                grouped(callers.into())
            ),
            elapsed,
            facts: vec![
                Fact::count("callers", "concurrent callers", callers.into()),
                Fact::count("requests", "requests to the endpoint", 1),
                Fact::yes_no("same_token", "every caller got the same token", same),
                Fact::new(
                    "endpoint_delay_millis",
                    "endpoint reply delayed",
                    duration(SINGLE_FLIGHT_DELAY),
                    millis(SINGLE_FLIGHT_DELAY),
                ),
            ],
        })
    }

    async fn rotation(&self) -> Result<Step, Failure> {
        let before = self.server.request_count();
        let rotations = self.rotations.load(Ordering::Relaxed);
        let started = Instant::now();
        self.credentials.refresh().await?;
        let rotated = self
            .user
            .refresh_token()
            .is_some_and(|rt| rt.expose_secret() != FILE_REFRESH_TOKEN);
        self.credentials.refresh().await?;
        let elapsed = started.elapsed();
        let requests = self.server.requests();
        let sent = |i: usize| {
            requests
                .get(before + i)
                .and_then(|r| r.form_value("refresh_token"))
                .map(str::to_owned)
        };
        let current = self.user.refresh_token();
        let current = current.as_ref().map(ExposeSecret::expose_secret);
        let first_sent_file_token = sent(0).as_deref() == Some(FILE_REFRESH_TOKEN);
        let next_sent_rotated = rotated && sent(1).is_some() && sent(1).as_deref() == current;
        let observed = self.rotations.load(Ordering::Relaxed) - rotations;
        let count = requests.len() - before;
        Self::check(
            "rotation",
            count == 2 && first_sent_file_token && next_sent_rotated && observed == 1,
            || {
                format!(
                    "requests {count} (expected 2), file token sent first: {first_sent_file_token}, rotated token sent next: {next_sent_rotated}, rotations observed: {observed}"
                )
            },
        )?;
        Ok(Step {
            key: "rotation",
            title: "Refresh-token rotation",
            explanation: "The endpoint returns a new refresh token; credkit keeps it and the next refresh sends it, not the file's.".to_owned(),
            elapsed,
            facts: vec![
                Fact::count("requests", "requests to the endpoint", 2),
                Fact::yes_no("rotated", "refresh token rotated (on_refresh saw it)", observed == 1),
                Fact::yes_no("first_sent_file_token", "first refresh sent the file's refresh token", first_sent_file_token),
                Fact::yes_no("next_sent_rotated_token", "next refresh sent the new refresh token", next_sent_rotated),
            ],
        })
    }

    async fn transient_failure(&self) -> Result<Step, Failure> {
        let before = self.server.request_count();
        let started = Instant::now();
        self.credentials.refresh().await?;
        let elapsed = started.elapsed();
        let requests = self.requests_since(before);
        Self::check("transient failure", requests == 2, || {
            format!("expected 2 requests (503, then 200), the endpoint received {requests}")
        })?;
        Ok(Step {
            key: "transient_failure",
            title: "Transient failure retried",
            explanation: format!(
                "The endpoint answers 503 with an HTML page: transient, so the retry layer waits ({} here, 1 s by default) and tries again.",
                duration(RETRY_WAIT)
            ),
            elapsed,
            facts: vec![
                Fact::count("requests", "requests to the endpoint", 2),
                Fact::text("replies", "replies", "503 (text/html), then 200"),
                Fact::new(
                    "retry_wait_millis",
                    "first retry waits",
                    format!("{} ± 10 % jitter", duration(RETRY_WAIT)),
                    millis(RETRY_WAIT),
                ),
                Fact::text(
                    "token_state",
                    "token state",
                    self.credentials.token_state().as_str(),
                ),
            ],
        })
    }

    async fn permanent_failure(&self) -> Result<Step, Failure> {
        let before = self.server.request_count();
        let started = Instant::now();
        let outcome = self.credentials.refresh().await;
        let elapsed = started.elapsed();
        let requests = self.requests_since(before);
        let Err(error) = outcome else {
            return Err(Failure::new(
                "demo step permanent failure: the refresh succeeded, but the endpoint answered invalid_grant",
            ));
        };
        let kept = self.credentials.token_state() == TokenState::Fresh;
        Self::check(
            "permanent failure",
            requests == 1
                && error.oauth_error() == Some("invalid_grant")
                && !error.is_transient()
                && kept,
            || {
                format!(
                    "requests {requests} (expected 1), error kind {}, transient {}, cached token kept {kept}",
                    error.kind(),
                    error.is_transient()
                )
            },
        )?;
        Ok(Step {
            key: "permanent_failure",
            title: "Permanent failure reported",
            explanation: "invalid_grant means the user must sign in again: retrying cannot help, so the error comes back at once.".to_owned(),
            elapsed,
            facts: vec![
                Fact::count("requests", "requests to the endpoint", 1),
                Fact::text("error", "error", error.to_string()),
                Fact::yes_no("transient", "transient", error.is_transient()),
                Fact::yes_no("kept_token", "the still-valid cached token is kept", kept),
            ],
        })
    }
}
