//! A token's lifetime counts from a time taken before its request was sent: a reply that takes
//! an hour to arrive (or a flight resumed an hour later) never makes a token look younger.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{Clock, Credentials, Result, TokenSource, TokenState, Transport};
use credkit_refresh_handler::handler_fn;
use credkit_refresh_token::UserCredentials;
use credkit_testing::{FAKE_CLOCK_START, FakeClock};
use futures::executor::block_on;
use serde_json::json;
use support::Scripted;

const HOUR: Duration = Duration::from_secs(3600);

/// A transport on which an hour passes, by `clock`, between sending and answering.
#[derive(Debug)]
struct SlowTransport {
    inner: Arc<Scripted>,
    clock: FakeClock,
}

#[async_trait]
impl Transport for SlowTransport {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        let response = self.inner.send(request).await;
        self.clock.advance(HOUR);
        response
    }
}

fn slow_credentials(clock: &FakeClock, expires_in: u64) -> UserCredentials {
    let inner = Scripted::new().reply(
        200,
        json!({"access_token": "ya29.slow", "expires_in": expires_in}),
    );
    UserCredentials::builder()
        .with_token_uri("https://oauth2.googleapis.com/token")
        .with_client_id("c")
        .with_client_secret("s")
        .with_refresh_token("r")
        .with_transport(SlowTransport {
            inner,
            clock: clock.clone(),
        })
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn the_grant_counts_expires_in_from_the_send_time() {
    let clock = FakeClock::new();
    let creds = slow_credentials(&clock, 3600);
    let token = block_on(creds.fetch_token()).unwrap();
    assert_eq!(clock.now(), FAKE_CLOCK_START + HOUR);
    assert_eq!(token.issued_at(), Some(FAKE_CLOCK_START));
    assert_eq!(token.expiry(), Some(FAKE_CLOCK_START + HOUR));
    assert_eq!(creds.expiry(), Some(FAKE_CLOCK_START + HOUR));
}

#[test]
fn a_token_that_lived_out_its_life_in_flight_is_not_reported_fresh() {
    let clock = FakeClock::new();
    let credentials: Credentials = Credentials::builder(slow_credentials(&clock, 3600))
        .without_retries()
        .build()
        .unwrap();
    // Whatever the caching layer makes of it, the token it received is not fresh: its hour
    // was spent waiting for the reply.
    let _ = block_on(credentials.refresh());
    assert_ne!(credentials.token_state(), TokenState::Fresh);
}

// A handler's token has no issue time at all (issue 12): it says when the token expires, not
// when it was issued, so the full threshold applies however long the handler took.
#[test]
fn the_refresh_handler_path_keeps_the_handlers_expiry_and_no_issue_time() {
    let clock = FakeClock::new();
    let slow = clock.clone();
    let creds = UserCredentials::builder()
        .with_refresh_handler(handler_fn(move |_transport, _scopes| {
            let clock = slow.clone();
            async move {
                let expiry = clock.now() + time::Duration::hours(2);
                clock.advance(HOUR);
                Ok(("ya29.handler", expiry))
            }
        }))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let token = block_on(creds.fetch_token()).unwrap();
    assert_eq!(token.issued_at(), None);
    assert_eq!(
        token.expiry(),
        Some(FAKE_CLOCK_START + time::Duration::hours(2))
    );
}
