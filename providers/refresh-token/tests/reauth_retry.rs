//! Retries inside reauthentication (issue 24), through `Credentials`: `sessions:start` and a
//! `:continue` whose answer is in hand are sent again after a transient failure, as the
//! reference does; the user is asked once; and the caching layer's retries never run the flow
//! a second time.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use credkit_core::interactive::interactive;
use credkit_core::{Credentials, ErrorKind};
use credkit_testing::{FakeChallenge, FakeClock, FakeTokenEndpoint, ReauthReply, Reply};
use futures::executor::block_on;
use secrecy::ExposeSecret;
use support::reauth::{endpoint_on, invalid_rapt, paths, reauthing_over};

const START: &str = "/v2/sessions:start";
const CONTINUE: &str = "/v2/sessions/123:continue";

fn unavailable() -> Reply {
    ReauthReply::api_error(503, "The service is currently unavailable.").to_reply()
}

/// Credentials over one in-memory endpoint on an auto-advancing clock (so every backoff is
/// instant), scripted with `replies`, and the count of password prompts.
fn scripted(
    replies: impl IntoIterator<Item = Reply>,
) -> (Credentials, FakeTokenEndpoint, FakeClock, Arc<Mutex<usize>>) {
    let clock = FakeClock::new().with_auto_advance(true);
    let endpoint = endpoint_on(&clock);
    endpoint.push_replies(replies);
    let asked = Arc::new(Mutex::new(0));
    let credentials = Credentials::builder(reauthing_over(&endpoint, &clock, &asked))
        .build()
        .unwrap();
    (credentials, endpoint, clock, asked)
}

#[test]
fn a_503_on_start_is_retried_and_the_user_asked_once() {
    let (credentials, endpoint, clock, asked) = scripted([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        unavailable(),
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)]).to_reply(),
        ReauthReply::authenticated("new_rapt_token").to_reply(),
        Reply::token("ya29.after-reauth"),
    ]);
    let headers = block_on(interactive(credentials.headers())).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.after-reauth");
    assert_eq!(*asked.lock().unwrap(), 1);
    assert_eq!(
        paths(&endpoint),
        ["/token", "/token", START, START, CONTINUE, "/token"]
    );
    assert_eq!(clock.sleeps().len(), 1);
    assert_eq!(
        endpoint.last_request().unwrap().form_value("rapt"),
        Some("new_rapt_token")
    );
}

#[test]
fn start_failing_past_the_attempts_surfaces_the_503_and_the_flow_runs_once() {
    // The 503 repeats for every later request, token grants included: a second run of the
    // flow by the caching layer's retries would show in the record.
    let (credentials, endpoint, clock, asked) = scripted([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        unavailable(),
    ]);
    let err = block_on(interactive(credentials.headers())).unwrap_err();
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    // Retried here already: permanent, so the retry layer does not start the flow again.
    assert!(!err.is_transient());
    assert_eq!(paths(&endpoint), ["/token", "/token", START, START, START]);
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(*asked.lock().unwrap(), 0);
}

#[test]
fn a_reset_on_continue_resends_the_same_answer_and_asks_once() {
    let (credentials, endpoint, _clock, asked) = scripted([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)]).to_reply(),
        Reply::reset(),
        ReauthReply::authenticated("new_rapt_token").to_reply(),
        Reply::token("ya29.after-reauth"),
    ]);
    let token = block_on(interactive(credentials.refresh())).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.after-reauth");
    assert_eq!(*asked.lock().unwrap(), 1);
    assert_eq!(
        paths(&endpoint),
        ["/token", "/token", START, CONTINUE, CONTINUE, "/token"]
    );
    let requests = endpoint.requests();
    assert_eq!(requests[3].body(), requests[4].body());
}

#[test]
fn a_400_on_start_is_not_retried() {
    let (credentials, endpoint, clock, asked) = scripted([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        ReauthReply::api_error(400, "Bad request.").to_reply(),
        ReauthReply::authenticated("new_rapt_token").to_reply(),
    ]);
    let err = block_on(interactive(credentials.headers())).unwrap_err();
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_transient());
    assert_eq!(paths(&endpoint), ["/token", "/token", START]);
    assert!(clock.sleeps().is_empty());
    assert_eq!(*asked.lock().unwrap(), 0);
}
