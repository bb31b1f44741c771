//! The interactive rule, mid-flight (issue 24, defect 4): whether a person waits is decided in
//! the poll that would start to ask them, not when `invalid_rapt` arrived. A refresh the
//! waiting caller started, then gave up on, and someone else finished, never prompts.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_core::Credentials;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::interactive::interactive;
use credkit_core::{ErrorKind, RefreshEvent, TokenSource};
use credkit_refresh_token::UserCredentials;
use credkit_testing::{FakeChallenge, FakeClock, FakeTokenEndpoint, ReauthReply, Reply};
use futures::executor::block_on;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use support::reauth::{NOT_INTERACTIVE, endpoint_on, invalid_rapt, paths, reauthing_over};

/// How long the scripted `sessions:start` takes to answer.
const START_DELAY: Duration = Duration::from_secs(10);

/// Reauthenticating credentials over an endpoint, and the count of password prompts.
struct Scenario {
    clock: FakeClock,
    endpoint: FakeTokenEndpoint,
    asked: Arc<Mutex<usize>>,
    creds: UserCredentials,
}

/// The refused grant, the reauth-scoped grant, a `sessions:start` that answers a password
/// challenge only after [`START_DELAY`], then what a completed flow would get.
fn slow_start() -> Scenario {
    let clock = FakeClock::new();
    let endpoint = endpoint_on(&clock);
    endpoint.push_replies([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)])
            .to_reply()
            .with_delay(START_DELAY),
        ReauthReply::authenticated("new_rapt_token").to_reply(),
        Reply::token("ya29.after-reauth"),
    ]);
    let asked = Arc::new(Mutex::new(0));
    let creds = reauthing_over(&endpoint, &clock, &asked);
    Scenario {
        clock,
        endpoint,
        asked,
        creds,
    }
}

const UP_TO_START: [&str; 3] = ["/token", "/token", "/v2/sessions:start"];

#[test]
fn a_fetch_the_waiting_caller_left_never_prompts() {
    let Scenario {
        clock,
        endpoint,
        asked,
        creds,
    } = slow_start();

    let mut fetch = Box::pin(creds.fetch_token());
    // The waiting caller polls: the grant is refused, and sessions:start is on its way.
    let first = block_on(interactive(async { futures::poll!(fetch.as_mut()) }));
    assert!(first.is_pending());
    assert_eq!(paths(&endpoint), UP_TO_START);

    // The caller gave up. The start's answer arrives and another task finishes the fetch: the
    // password challenge finds nobody waiting.
    clock.advance(START_DELAY);
    let err = block_on(fetch).unwrap_err();
    assert_eq!(err.to_string(), NOT_INTERACTIVE);
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert!(!err.is_transient());
    assert_eq!(*asked.lock().unwrap(), 0);
    assert_eq!(paths(&endpoint), UP_TO_START);
    assert!(creds.rapt_token().is_none());
}

#[test]
fn the_same_fetch_still_prompts_when_the_caller_keeps_waiting() {
    let Scenario {
        clock,
        endpoint,
        asked,
        creds,
    } = slow_start();

    let mut fetch = Box::pin(creds.fetch_token());
    let first = block_on(interactive(async { futures::poll!(fetch.as_mut()) }));
    assert!(first.is_pending());
    clock.advance(START_DELAY);
    let token = block_on(interactive(fetch)).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.after-reauth");
    assert_eq!(*asked.lock().unwrap(), 1);
    assert_eq!(
        paths(&endpoint),
        [
            "/token",
            "/token",
            "/v2/sessions:start",
            "/v2/sessions/123:continue",
            "/token"
        ]
    );
}

#[test]
fn a_flight_the_spawner_took_over_never_prompts() {
    let Scenario {
        clock,
        endpoint,
        asked,
        creds,
    } = slow_start();
    let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
    let spawned = Arc::clone(&queue);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::clone(&failures);
    let credentials = Credentials::builder(creds.clone())
        .with_spawner(move |future| spawned.lock().unwrap().push(future))
        .on_refresh(move |event: &RefreshEvent| {
            if let RefreshEvent::Failed { error, .. } = event {
                failed.lock().unwrap().push(error.to_string());
            }
        })
        .build()
        .unwrap();

    // The waiting caller starts the refresh, which gets as far as sessions:start; then it gives
    // up (its own timeout) and drops its wait.
    {
        let mut refresh = Box::pin(interactive(credentials.refresh()));
        let first = block_on(async { futures::poll!(refresh.as_mut()) });
        assert!(first.is_pending());
    }
    assert_eq!(paths(&endpoint), UP_TO_START);
    // Its grant is out, so the flight it left is handed to the spawner to finish; `apply`
    // (which cannot wait) finds it driven and starts nothing more.
    assert_eq!(queue.lock().unwrap().len(), 1);
    assert!(credentials.apply(&mut HeaderMap::new()).is_err());
    let tasks: Vec<_> = queue.lock().unwrap().drain(..).collect();
    assert_eq!(tasks.len(), 1);
    clock.advance(START_DELAY);
    tasks.into_iter().for_each(block_on);

    assert_eq!(*asked.lock().unwrap(), 0);
    assert_eq!(failures.lock().unwrap().as_slice(), [NOT_INTERACTIVE]);
    // Permanent: the retry layer did not run the flow again.
    assert_eq!(paths(&endpoint), UP_TO_START);
}
