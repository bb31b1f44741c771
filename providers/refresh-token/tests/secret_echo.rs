//! Token endpoints that echo a secret back in their error: no rendering of the error shows it.
//!
//! Some endpoints put the refresh token or the client secret in `error_description` ("Invalid
//! refresh token: 1//..."). Whatever the description holds around it (control characters, line
//! breaks, forged log lines, a megabyte of text), the error's `Display`, `Debug`, source chain
//! and the caching layer's refresh events carry neither the secret nor a raw control character.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_core::Credentials;
use std::error::Error as _;
use std::sync::{Arc, Mutex};

use credkit_core::{Error, RetryPolicy, TokenSource};
use credkit_refresh_token::UserCredentials;
use credkit_testing::FakeClock;
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::json;
use support::Scripted;

/// Every way the error can be shown: `Display`, `Debug`, each source's `Display` and `Debug`.
fn renderings(err: &Error) -> Vec<String> {
    let mut shown = vec![err.to_string(), format!("{err:?}")];
    let mut source = err.source();
    while let Some(cause) = source {
        shown.push(cause.to_string());
        shown.push(format!("{cause:?}"));
        source = cause.source();
    }
    shown
}

fn assert_clean(shown: &str, secrets: &[&str]) -> Result<(), TestCaseError> {
    for secret in secrets {
        prop_assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    prop_assert!(
        !shown.chars().any(char::is_control),
        "control character in {shown:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_rendering_of_an_echoing_error_shows_a_secret(
        refresh in "1//[A-Za-z0-9_-]{12,60}",
        client_secret in "[A-Za-z0-9_-]{12,40}",
        rapt in "[A-Za-z0-9_.-]{12,40}",
        which in 0_usize..3,
        before in any::<String>(),
        after in "[\\x00-\\x1f\\x7f\\u{85}\\u{2028} -~é]{0,80}",
        status in prop_oneof![Just(400_u16), Just(401), Just(503)],
        with_error in any::<bool>(),
    ) {
        let echoed = [&refresh, &client_secret, &rapt][which];
        let description = format!("{before}{echoed}\r\n{after}{echoed}");
        let body = if with_error {
            json!({"error": format!("invalid_grant {echoed}"), "error_description": description, "error_subtype": echoed})
        } else {
            json!({"error_description": description})
        };
        let transport = Scripted::new().reply(status, body);
        let clock = FakeClock::new().with_auto_advance(true);
        let creds = UserCredentials::builder()
            .with_refresh_token(refresh.clone())
            .with_token_uri("https://example.com/token")
            .with_client_id("client-id")
            .with_client_secret(client_secret.clone())
            .with_rapt_token(rapt.clone())
            .with_transport(transport)
            .with_clock(clock.clone())
            .build()
            .unwrap();

        // The provider's own error.
        let err = block_on(creds.fetch_token()).unwrap_err();
        let secrets = [refresh.as_str(), client_secret.as_str(), rapt.as_str()];
        for shown in renderings(&err) {
            assert_clean(&shown, &secrets)?;
        }

        // Through the caching layer, with its retries and its refresh events.
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let credentials = Credentials::builder(creds.clone())
            .with_clock(clock)
            .with_retry_policy(RetryPolicy::default())
            .on_refresh(move |event| seen.lock().unwrap().push(format!("{event:?}")))
            .build()
            .unwrap();
        let err = block_on(credentials.refresh()).unwrap_err();
        for shown in renderings(&err).iter().chain(events.lock().unwrap().iter()) {
            assert_clean(shown, &secrets)?;
        }
    }
}
