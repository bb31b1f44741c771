//! Reauth fixtures: one in-memory endpoint on a `FakeClock` standing for both the token
//! endpoint and the reauth API, and credentials that may reauthenticate through it, counting
//! the password prompts.

use std::sync::{Arc, Mutex};

use credkit_refresh_token::{PasswordPrompt, UserCredentials, prompt_fn};
use credkit_testing::{FakeClock, FakeTokenEndpoint, IN_MEMORY_TOKEN_URL, Reply};
use secrecy::SecretString;
use serde_json::json;

/// The reference's text when a challenge comes and nobody can answer it.
pub const NOT_INTERACTIVE: &str = "Reauthentication failed. Reauthentication challenge could not be answered because you are not in an interactive session.";

/// The token endpoint's refusal that starts reauthentication.
pub fn invalid_rapt() -> Reply {
    Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "reauth related error", "error_subtype": "invalid_rapt"}),
    )
}

/// A password prompt answering `hunter2`, counting its calls in `asked`.
pub fn counting_prompt(asked: &Arc<Mutex<usize>>) -> impl PasswordPrompt + use<> {
    let asked = Arc::clone(asked);
    prompt_fn(move |_prompt| {
        *asked.lock().unwrap() += 1;
        async { Ok(SecretString::from("hunter2")) }
    })
}

/// An endpoint whose replies wait on `clock`.
pub fn endpoint_on(clock: &FakeClock) -> FakeTokenEndpoint {
    FakeTokenEndpoint::new().with_clock(clock.clone())
}

/// Credentials over `endpoint` (token endpoint and reauth API alike) that may reauthenticate,
/// with the password prompt counting in `asked`.
pub fn reauthing_over(
    endpoint: &FakeTokenEndpoint,
    clock: &FakeClock,
    asked: &Arc<Mutex<usize>>,
) -> UserCredentials {
    UserCredentials::builder()
        .with_refresh_token("1//refresh")
        .with_client_id("123")
        .with_client_secret("s3cret")
        .with_token_uri(IN_MEMORY_TOKEN_URL)
        .with_scopes(["email", "profile"])
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .with_enable_reauth_refresh(true)
        .with_reauth_uri("http://127.0.0.1:9")
        .with_password_prompt(counting_prompt(asked))
        .build()
        .unwrap()
}

/// The paths `endpoint` was asked for, in order.
pub fn paths(endpoint: &FakeTokenEndpoint) -> Vec<String> {
    endpoint
        .requests()
        .iter()
        .map(|request| request.path().to_owned())
        .collect()
}
