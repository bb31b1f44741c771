//! The reference's `test_reauth.py`, ported: the protocol against a scripted in-memory reauth
//! API.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::interactive::interactive;
use credkit_core::{ErrorKind, OAuthError, Result, SystemClock};
use credkit_testing::{FakeChallenge, FakeClock, FakeTokenEndpoint, ReauthReply, Reply};
use futures::executor::block_on;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::builtin::PasswordPrompt;
use super::challenge::{Challenge, ProposalResponse, ReauthChallenge};
use super::flow::{Session, obtain_rapt, read_message, run_next_challenge, start};
use super::*;

const UNSUPPORTED: &str = "Reauthentication failed. Unsupported challenge type CHALLENGE_TYPE_UNSPECIFIED. Supported types: SECURITY_KEY,PASSWORD,SAML";
const NOT_INTERACTIVE: &str = "Reauthentication failed. Reauthentication challenge could not be answered because you are not in an interactive session.";
const NO_RAPT: &str = "Reauthentication failed. Failed to obtain rapt token.";

#[derive(Debug)]
struct Fixed(&'static str);

#[async_trait]
impl PasswordPrompt for Fixed {
    async fn password(&self, prompt: &str) -> Result<SecretString> {
        assert_eq!(prompt, "Please enter your password:");
        Ok(SecretString::from(self.0))
    }
}

/// A handler that is not locally eligible, or answers nothing, counting its calls.
#[derive(Debug, Default)]
struct Scripted {
    ineligible: bool,
    calls: AtomicUsize,
}

#[async_trait]
impl ReauthChallenge for Scripted {
    fn is_locally_eligible(&self) -> bool {
        !self.ineligible
    }

    async fn respond(&self, _challenge: &Challenge) -> Result<Option<ProposalResponse>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
}

fn with_password(password: &'static str) -> ReauthSettings {
    ReauthSettings {
        prompt: Some(Arc::new(Fixed(password))),
        ..ReauthSettings::default()
    }
}

fn script(replies: impl IntoIterator<Item = ReauthReply>) -> FakeTokenEndpoint {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies(replies.into_iter().map(ReauthReply::to_reply));
    endpoint
}

fn run(
    endpoint: &FakeTokenEndpoint,
    settings: &ReauthSettings,
    scopes: &[String],
    limit: usize,
) -> Result<String> {
    let token = SecretString::from("token");
    let secrets = [&token];
    let session = Session {
        transport: endpoint,
        clock: &SystemClock,
        settings,
        access_token: &token,
        secrets: &secrets,
    };
    // Inside `interactive`: a person waits, as for a refresh an application awaits.
    block_on(interactive(obtain_rapt(&session, scopes, limit)))
        .map(|rapt| rapt.expose_secret().to_owned())
}

fn body(endpoint: &FakeTokenEndpoint, n: usize) -> String {
    String::from_utf8(endpoint.requests()[n].body().to_vec()).unwrap()
}

#[test]
fn get_challenges_posts_start_with_the_reference_body_and_headers() {
    let endpoint = script([ReauthReply::authenticated("new_rapt_token")]);
    let scopes = ["foo".to_owned(), "bar".to_owned()];
    assert_eq!(
        run(&endpoint, &ReauthSettings::default(), &scopes, 5).unwrap(),
        "new_rapt_token"
    );
    let request = &endpoint.requests()[0];
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/v2/sessions:start");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer token"));
    assert_eq!(
        body(&endpoint, 0),
        r#"{"supportedChallengeTypes": ["SECURITY_KEY", "PASSWORD", "SAML"], "oauthScopesForDomainPolicyLookup": ["foo", "bar"]}"#
    );
    // Without scopes, no lookup member.
    let endpoint = script([ReauthReply::authenticated("r")]);
    run(&endpoint, &ReauthSettings::default(), &[], 5).unwrap();
    assert_eq!(
        body(&endpoint, 0),
        r#"{"supportedChallengeTypes": ["SECURITY_KEY", "PASSWORD", "SAML"]}"#
    );
}

#[test]
fn send_challenge_result_posts_continue_with_the_password() {
    let endpoint = script([
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)]),
        ReauthReply::authenticated("new_rapt_token"),
    ]);
    let rapt = run(&endpoint, &with_password("password"), &[], 5).unwrap();
    assert_eq!(rapt, "new_rapt_token");
    let request = &endpoint.requests()[1];
    assert_eq!(request.path(), "/v2/sessions/123:continue");
    assert_eq!(request.header("authorization"), Some("Bearer token"));
    assert_eq!(
        body(&endpoint, 1),
        r#"{"sessionId": "123", "challengeId": 1, "action": "RESPOND", "proposalResponse": {"credential": "password"}}"#
    );
}

fn next(
    settings: &ReauthSettings,
    message: &ReauthReply,
    endpoint: &FakeTokenEndpoint,
) -> Result<bool> {
    let token = SecretString::from("token");
    let secrets = [&token];
    let session = Session {
        transport: endpoint,
        clock: &SystemClock,
        settings,
        access_token: &token,
        secrets: &secrets,
    };
    let msg = read_message(message.json().unwrap().to_string().as_bytes(), &[])?;
    block_on(interactive(run_next_challenge(&session, &msg))).map(|m| m.is_some())
}

#[test]
fn run_next_challenge_cases() {
    let endpoint = script([ReauthReply::authenticated("r")]);
    let settings = with_password("password");
    // Not ready: nothing to answer, no request.
    let not_ready =
        ReauthReply::challenge_required("123", [FakeChallenge::password(1).not_ready()]);
    assert!(!next(&settings, &not_ready, &endpoint).unwrap());
    assert_eq!(endpoint.request_count(), 0);
    // An unknown type.
    let unknown = ReauthReply::challenge_required(
        "123",
        [FakeChallenge::new("CHALLENGE_TYPE_UNSPECIFIED", 1)],
    );
    let err = next(&settings, &unknown, &endpoint).unwrap_err();
    assert_eq!(err.to_string(), UNSUPPORTED);
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert!(!err.is_transient());
    // Not locally eligible.
    let mut ineligible = ReauthSettings::default();
    ineligible.plug(
        "PASSWORD".into(),
        Arc::new(Scripted {
            ineligible: true,
            ..Scripted::default()
        }),
    );
    let password = ReauthReply::challenge_required("123", [FakeChallenge::password(1)]);
    let err = next(&ineligible, &password, &endpoint).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Reauthentication failed. Challenge PASSWORD is not locally eligible"
    );
    // No input: nothing sent.
    let silent = Arc::new(Scripted::default());
    let mut quiet = ReauthSettings::default();
    quiet.plug("PASSWORD".into(), silent.clone());
    assert!(!next(&quiet, &password, &endpoint).unwrap());
    assert_eq!(silent.calls.load(Ordering::SeqCst), 1);
    assert_eq!(endpoint.request_count(), 0);
    // Success: the answer is sent.
    assert!(next(&settings, &password, &endpoint).unwrap());
    assert_eq!(endpoint.requests()[0].path(), "/v2/sessions/123:continue");
}

#[test]
fn the_first_ready_challenge_is_answered_in_order() {
    let endpoint = script([
        ReauthReply::challenge_required(
            "s",
            [
                FakeChallenge::saml(1).not_ready(),
                FakeChallenge::password(2),
                FakeChallenge::saml(3),
            ],
        ),
        ReauthReply::authenticated("rapt"),
    ]);
    run(&endpoint, &with_password("pw"), &[], 5).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(endpoint.requests()[1].body()).unwrap();
    assert_eq!(sent["challengeId"], 2);
}

#[test]
fn obtain_rapt_authenticated_at_start_needs_no_prompt() {
    let endpoint = script([ReauthReply::authenticated("new_rapt_token")]);
    assert_eq!(
        run(&endpoint, &ReauthSettings::default(), &[], 5).unwrap(),
        "new_rapt_token"
    );
    assert_eq!(endpoint.request_count(), 1);
}

#[test]
fn obtain_rapt_authenticated_in_a_later_round() {
    let endpoint = script([
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)]),
        ReauthReply::challenge_pending("123", [FakeChallenge::password(2)]),
        ReauthReply::authenticated("new_rapt_token"),
    ]);
    assert_eq!(
        run(&endpoint, &with_password("pw"), &[], 5).unwrap(),
        "new_rapt_token"
    );
    assert_eq!(endpoint.request_count(), 3);
}

#[test]
fn obtain_rapt_api_error_status() {
    let endpoint = script([ReauthReply::session("STATUS_UNSPECIFIED", "123", [])]);
    let err = run(&endpoint, &with_password("pw"), &[], 5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Reauthentication failed. Reauthentication challenge failed due to API error: STATUS_UNSPECIFIED"
    );
}

#[test]
fn obtain_rapt_no_challenge_output() {
    let endpoint = script([ReauthReply::challenge_required(
        "123",
        [FakeChallenge::password(1).not_ready()],
    )]);
    let err = run(&endpoint, &with_password("pw"), &[], 5).unwrap_err();
    assert_eq!(err.to_string(), NO_RAPT);
}

#[test]
fn obtain_rapt_not_interactive() {
    let endpoint = script([ReauthReply::challenge_required(
        "123",
        [FakeChallenge::password(1)],
    )]);
    let err = run(&endpoint, &ReauthSettings::default(), &[], 5).unwrap_err();
    assert_eq!(err.to_string(), NOT_INTERACTIVE);
    assert_eq!(endpoint.request_count(), 1);
}

#[test]
fn a_handler_is_never_started_outside_an_interactive_poll() {
    // A handler for the challenge, but the flow is polled by nobody who waits (as a spawner's
    // task does): the handler is not called, and no answer goes out.
    let handler = Arc::new(Scripted::default());
    let mut settings = ReauthSettings::default();
    settings.plug("PASSWORD".into(), handler.clone());
    let endpoint = script([
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)]),
        ReauthReply::authenticated("rapt"),
    ]);
    let token = SecretString::from("token");
    let session = Session {
        transport: &endpoint,
        clock: &SystemClock,
        settings: &settings,
        access_token: &token,
        secrets: &[],
    };
    let err = block_on(obtain_rapt(&session, &[], 5)).unwrap_err();
    assert_eq!(err.to_string(), NOT_INTERACTIVE);
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
    assert_eq!(endpoint.request_count(), 1);
    // A session authenticated at the start asks nobody, so needs nobody waiting.
    let endpoint = script([ReauthReply::authenticated("rapt")]);
    let session = Session {
        transport: &endpoint,
        ..session
    };
    assert_eq!(
        block_on(obtain_rapt(&session, &[], 5))
            .unwrap()
            .expose_secret(),
        "rapt"
    );
}

#[test]
fn obtain_rapt_retry_limit() {
    // A limit of 0: no round at all.
    let endpoint = script([ReauthReply::challenge_required(
        "123",
        [FakeChallenge::password(1)],
    )]);
    let err = run(&endpoint, &with_password("pw"), &[], 0).unwrap_err();
    assert_eq!(err.to_string(), NO_RAPT);
    assert_eq!(endpoint.request_count(), 1);
    // A session that never ends: exactly RUN_CHALLENGE_RETRY_LIMIT continues, then the error.
    let endpoint = script([ReauthReply::challenge_pending(
        "123",
        [FakeChallenge::password(1)],
    )]);
    let err = run(
        &endpoint,
        &with_password("pw"),
        &[],
        RUN_CHALLENGE_RETRY_LIMIT,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), NO_RAPT);
    assert_eq!(endpoint.request_count(), 1 + 5);
}

#[test]
fn builtin_challenges() {
    // SAML: the reference's error.
    let endpoint = script([ReauthReply::challenge_required(
        "1",
        [FakeChallenge::saml(1)],
    )]);
    let err = run(&endpoint, &with_password("pw"), &[], 5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Reauthentication failed. Please run `gcloud auth login` to complete reauthentication with SAML."
    );
    // SECURITY_KEY without a handler: a clear error; with one, its answer is sent.
    let endpoint = script([ReauthReply::challenge_required(
        "1",
        [FakeChallenge::security_key(1)],
    )]);
    let err = run(&endpoint, &with_password("pw"), &[], 5).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Reauthentication failed. Security key challenges need a handler"),
        "{err}"
    );
    let endpoint = script([
        ReauthReply::challenge_required("1", [FakeChallenge::security_key(7)]),
        ReauthReply::authenticated("rapt"),
    ]);
    let mut settings = ReauthSettings::default();
    settings.plug(
        "SECURITY_KEY".into(),
        Arc::new(challenge_fn(|challenge| async move {
            let app = challenge.metadata()["securityKey"]["applicationId"].clone();
            Ok(Some(ProposalResponse::new(
                json!({"securityKey": {"applicationId": app}}),
            )))
        })),
    );
    assert_eq!(run(&endpoint, &settings, &[], 5).unwrap(), "rapt");
    assert_eq!(
        body(&endpoint, 1),
        r#"{"sessionId": "1", "challengeId": 7, "action": "RESPOND", "proposalResponse": {"securityKey": {"applicationId": "security_key_application_id"}}}"#
    );
    // An empty password is sent as " ".
    let endpoint = script([
        ReauthReply::challenge_required("1", [FakeChallenge::password(1)]),
        ReauthReply::authenticated("rapt"),
    ]);
    run(&endpoint, &with_password(""), &[], 5).unwrap();
    assert!(body(&endpoint, 1).contains(r#"{"credential": " "}"#));
}

#[test]
fn api_errors_and_hostile_messages_keep_secrets_out() {
    // An HTTP error of the API: the endpoint's error, not the message body.
    let endpoint = script([ReauthReply::raw(Reply::oauth_error(
        400,
        "invalid_request",
        Some("bad token"),
    ))]);
    let err = run(&endpoint, &ReauthSettings::default(), &[], 5).unwrap_err();
    assert_eq!(err.to_string(), "invalid_request: bad [REDACTED]");
    // A status echoing the bearer token is scrubbed.
    let endpoint = script([ReauthReply::session("token\nforged", "1", [])]);
    let err = run(&endpoint, &with_password("pw"), &[], 5).unwrap_err();
    assert!(!err.to_string().contains("token"), "{err}");
    // A session id cannot leave its path segment.
    let endpoint = script([
        ReauthReply::challenge_required("../x?y", [FakeChallenge::password(1)]),
        ReauthReply::authenticated("rapt"),
    ]);
    run(&endpoint, &with_password("pw"), &[], 5).unwrap();
    assert_eq!(
        endpoint.requests()[1].path(),
        "/v2/sessions/..%2Fx%3Fy:continue"
    );
}

#[test]
fn start_with_a_custom_uri_and_extra_types() {
    let endpoint = script([ReauthReply::authenticated("r")]);
    let mut settings = ReauthSettings {
        uri: "http://127.0.0.1:9/".to_owned(),
        ..ReauthSettings::default()
    };
    settings.plug("OTP".into(), Arc::new(Scripted::default()));
    let token = SecretString::from("t");
    let session = Session {
        transport: &endpoint,
        clock: &SystemClock,
        settings: &settings,
        access_token: &token,
        secrets: &[],
    };
    block_on(start(&session, &[])).unwrap();
    assert_eq!(endpoint.requests()[0].path(), "/v2/sessions:start");
    assert_eq!(
        body(&endpoint, 0),
        r#"{"supportedChallengeTypes": ["SECURITY_KEY", "PASSWORD", "SAML", "OTP"]}"#
    );
}

#[test]
fn rapt_subtypes_map_and_others_pass() {
    for subtype in ["invalid_rapt", "rapt_required"] {
        let err =
            Error::token_endpoint(400, OAuthError::new("invalid_grant").with_subtype(subtype));
        let mapped = map_reauth_needed(err);
        assert_eq!(mapped.kind(), ErrorKind::ReauthRequired);
        assert_eq!(mapped.http_status(), Some(400));
        assert_eq!(mapped.error_subtype(), Some(subtype));
        assert!(!mapped.is_transient());
        assert!(
            mapped
                .to_string()
                .starts_with("Reauthentication is needed.")
        );
    }
    let other = Error::token_endpoint(400, OAuthError::new("invalid_grant"));
    assert_eq!(map_reauth_needed(other).kind(), ErrorKind::TokenEndpoint);
}

#[test]
fn secrets_stay_out_of_debug() {
    let answer = ProposalResponse::password(&SecretString::from("hunter2"));
    assert!(!format!("{answer:?}").contains("hunter2"));
    let settings = with_password("hunter2");
    assert!(!format!("{settings:?}").contains("hunter2"));
}

// ===== retries of the requests that cannot ask again (issue 24) =====

/// A password prompt counting its calls.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl PasswordPrompt for Counting {
    async fn password(&self, _prompt: &str) -> Result<SecretString> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(SecretString::from("hunter2"))
    }
}

/// Runs the flow over `replies` with a counting password prompt on an auto-advancing
/// [`FakeClock`]: the rapt (or the error), the endpoint, the prompt's count and the waits.
struct Retried {
    result: Result<String>,
    endpoint: FakeTokenEndpoint,
    asked: usize,
    sleeps: Vec<Duration>,
}

fn run_retried(replies: impl IntoIterator<Item = Reply>) -> Retried {
    let clock = FakeClock::new().with_auto_advance(true);
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_replies(replies);
    let prompt = Arc::new(Counting::default());
    let settings = ReauthSettings {
        prompt: Some(prompt.clone()),
        ..ReauthSettings::default()
    };
    let token = SecretString::from("token");
    let secrets = [&token];
    let session = Session {
        transport: &endpoint,
        clock: &clock,
        settings: &settings,
        access_token: &token,
        secrets: &secrets,
    };
    let result = block_on(interactive(obtain_rapt(&session, &[], 5)))
        .map(|rapt| rapt.expose_secret().to_owned());
    Retried {
        result,
        endpoint,
        asked: prompt.0.load(Ordering::SeqCst),
        sleeps: clock.sleeps(),
    }
}

fn paths(endpoint: &FakeTokenEndpoint) -> Vec<String> {
    endpoint
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect()
}

fn password_session() -> Reply {
    ReauthReply::challenge_required("123", [FakeChallenge::password(1)]).to_reply()
}

fn done() -> Reply {
    ReauthReply::authenticated("new_rapt_token").to_reply()
}

/// The reference's first wait: 1 s, plus or minus 10 %.
fn assert_first_wait(wait: Duration) {
    assert!(
        (Duration::from_millis(900)..=Duration::from_millis(1100)).contains(&wait),
        "{wait:?}"
    );
}

const START: &str = "/v2/sessions:start";
const CONTINUE: &str = "/v2/sessions/123:continue";

#[test]
fn a_transient_start_failure_is_sent_again_and_the_user_asked_once() {
    let run = run_retried([
        ReauthReply::api_error(503, "The service is unavailable.").to_reply(),
        password_session(),
        done(),
    ]);
    assert_eq!(run.result.unwrap(), "new_rapt_token");
    assert_eq!(run.asked, 1);
    assert_eq!(paths(&run.endpoint), [START, START, CONTINUE]);
    assert_eq!(body(&run.endpoint, 0), body(&run.endpoint, 1));
    assert_eq!(run.sleeps.len(), 1);
    assert_first_wait(run.sleeps[0]);
}

#[test]
fn a_reset_and_a_timeout_of_start_are_transient_too() {
    let run = run_retried([Reply::reset(), Reply::stall(), done()]);
    assert_eq!(run.result.unwrap(), "new_rapt_token");
    assert_eq!(paths(&run.endpoint), [START, START, START]);
    assert_eq!(run.asked, 0);
    assert_eq!(run.sleeps.len(), 2);
    assert_first_wait(run.sleeps[0]);
    assert!(
        (Duration::from_millis(1800)..=Duration::from_millis(2200)).contains(&run.sleeps[1]),
        "{:?}",
        run.sleeps
    );
}

#[test]
fn start_failing_past_the_attempts_reports_the_last_failure() {
    let run = run_retried([ReauthReply::api_error(503, "The service is unavailable.").to_reply()]);
    let err = run.result.unwrap_err();
    assert_eq!(err.http_status(), Some(503));
    assert!(err.is_transient(), "as the transport reported it");
    assert_eq!(paths(&run.endpoint), [START, START, START]);
    assert_eq!(run.asked, 0);
    assert_eq!(run.sleeps.len(), 2);
}

#[test]
fn a_permanent_start_failure_is_not_sent_again() {
    for status in [400, 401, 403, 404, 502] {
        let run = run_retried([
            ReauthReply::api_error(status, "no").to_reply(),
            password_session(),
            done(),
        ]);
        let err = run.result.unwrap_err();
        assert_eq!(err.http_status(), Some(status));
        assert!(!err.is_transient());
        assert_eq!(paths(&run.endpoint), [START], "{status}");
        assert!(run.sleeps.is_empty());
        assert_eq!(run.asked, 0);
    }
}

#[test]
fn a_transient_continue_failure_resends_the_same_answer_without_asking_again() {
    let run = run_retried([
        password_session(),
        Reply::reset(),
        ReauthReply::api_error(503, "The service is unavailable.").to_reply(),
        done(),
    ]);
    assert_eq!(run.result.unwrap(), "new_rapt_token");
    assert_eq!(run.asked, 1);
    assert_eq!(paths(&run.endpoint), [START, CONTINUE, CONTINUE, CONTINUE]);
    let sent = body(&run.endpoint, 1);
    assert!(sent.contains(r#""proposalResponse": {"credential": "hunter2"}"#));
    assert_eq!(body(&run.endpoint, 2), sent);
    assert_eq!(body(&run.endpoint, 3), sent);
    assert_eq!(run.sleeps.len(), 2);
}

#[test]
fn continue_failing_past_the_attempts_asks_once_and_reports_the_failure() {
    let run = run_retried([
        password_session(),
        ReauthReply::api_error(429, "Slow down.")
            .to_reply()
            .with_header("retry-after", "5"),
    ]);
    let err = run.result.unwrap_err();
    assert_eq!(err.http_status(), Some(429));
    assert_eq!(run.asked, 1);
    assert_eq!(paths(&run.endpoint), [START, CONTINUE, CONTINUE, CONTINUE]);
    // The endpoint's Retry-After is longer than the policy's waits: it is honoured.
    assert_eq!(run.sleeps, [Duration::from_secs(5), Duration::from_secs(5)]);
}

#[test]
fn a_permanent_continue_failure_is_not_sent_again() {
    let run = run_retried([
        password_session(),
        ReauthReply::api_error(400, "Wrong password.").to_reply(),
        done(),
    ]);
    let err = run.result.unwrap_err();
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(run.asked, 1);
    assert_eq!(paths(&run.endpoint), [START, CONTINUE]);
    assert!(run.sleeps.is_empty());
}

#[test]
fn each_round_asks_once_however_often_its_answer_is_sent() {
    let run = run_retried([
        password_session(),
        Reply::reset(),
        ReauthReply::challenge_pending("123", [FakeChallenge::password(2)]).to_reply(),
        Reply::reset(),
        done(),
    ]);
    assert_eq!(run.result.unwrap(), "new_rapt_token");
    assert_eq!(run.asked, 2);
    assert_eq!(
        paths(&run.endpoint),
        [START, CONTINUE, CONTINUE, CONTINUE, CONTINUE]
    );
}
