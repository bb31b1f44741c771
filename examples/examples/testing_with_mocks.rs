//! Testing code that uses credkit: a small API client, tested with `MockTransport` (the API),
//! `FakeTokenEndpoint` (the token endpoint, in memory) and `FakeClock` (time): no network, no
//! sleep.
//!
//! ```text
//! cargo run -p credkit-examples --example testing_with_mocks    # runs the client against the fakes
//! cargo test -p credkit-examples --example testing_with_mocks   # runs its tests
//! ```
//!
//! The client takes its credentials and its transport from the caller, as credkit's own
//! providers do; that is what makes it testable without a server.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use credkit_core::bytes::Bytes;
use credkit_core::http::{self, StatusCode, header::AUTHORIZATION};
use credkit_core::{AuthorizedTransport, BuildError, Credentials, Transport};
use credkit_refresh_token::UserCredentials;
use credkit_testing::{FakeClock, FakeTokenEndpoint, MockTransport, response};

// ===== The code under test: a user's API client =====

/// A client of a (made-up) file-listing API.
#[derive(Clone, Debug)]
pub struct FilesClient {
    /// Puts the credentials on each request; on a 401 drops the token and replays once.
    api: Arc<AuthorizedTransport<Arc<dyn Transport>>>,
    base_url: String,
}

/// Why a call failed.
#[derive(Debug)]
pub enum ApiError {
    /// No token, or the request could not be sent: credkit's error, with its kind and transience.
    Credentials(credkit_core::Error),
    /// The API answered with an error status.
    Status(StatusCode),
    /// The API's answer was not the JSON expected.
    InvalidBody,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Credentials(err) => write!(f, "{err}"),
            Self::Status(status) => write!(f, "the files API answered {status}"),
            Self::InvalidBody => f.write_str("the files API answered with an unexpected body"),
        }
    }
}

impl Error for ApiError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Credentials(err) => Some(err),
            _ => None,
        }
    }
}

impl From<credkit_core::Error> for ApiError {
    fn from(err: credkit_core::Error) -> Self {
        Self::Credentials(err)
    }
}

impl FilesClient {
    /// A client of the API at `base_url`, authorized by `credentials`, sending through
    /// `transport`.
    pub fn new(
        credentials: Credentials,
        transport: Arc<dyn Transport>,
        base_url: impl Into<String>,
    ) -> Self {
        Self {
            api: Arc::new(AuthorizedTransport::new(transport, credentials)),
            base_url: base_url.into(),
        }
    }

    /// The names of the files. On a 401, drops the rejected token and tries once more with a
    /// new one (the token may have been revoked early).
    ///
    /// # Errors
    ///
    /// No token could be had, the request failed, or the API answered with an error.
    pub async fn list(&self) -> Result<Vec<String>, ApiError> {
        let request = http::Request::get(format!("{}/files", self.base_url))
            .body(Bytes::new())
            .map_err(|_| ApiError::InvalidBody)?;
        let response = self.api.send(request).await?;
        if !response.status().is_success() {
            return Err(ApiError::Status(response.status()));
        }
        let body: serde_json::Value =
            serde_json::from_slice(response.body()).map_err(|_| ApiError::InvalidBody)?;
        let names = body["files"].as_array().ok_or(ApiError::InvalidBody)?;
        Ok(names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect())
    }
}

// ===== The test setup, shared by the tests and `main` =====

/// The API's answer to a listing.
const FILES: &str = r#"{"files": ["notes.txt", "report.pdf"]}"#;

/// User credentials that refresh against the in-memory `endpoint` and tell time by `clock`.
fn credentials(endpoint: &FakeTokenEndpoint, clock: &FakeClock) -> Result<Credentials, BuildError> {
    let user = UserCredentials::builder()
        .with_client_id("client-id")
        .with_client_secret("client-secret")
        .with_refresh_token("1//refresh-token")
        .with_token_uri(endpoint.token_url())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .build()?;
    // The source names its clock: the cache and the retry layer's backoff (instant on a
    // FakeClock) tell time by it too.
    Credentials::builder(user).build()
}

/// An API that lists [`FILES`] to any request with a bearer token.
fn api() -> MockTransport {
    let mut api = MockTransport::new();
    api.expect_send().returning(|request| {
        Ok(if request.headers().contains_key(AUTHORIZATION) {
            response(200, FILES)
        } else {
            response(401, "{}")
        })
    });
    api
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    let client = FilesClient::new(
        credentials(&endpoint, &clock)?,
        Arc::new(api()),
        "https://files.example.test",
    );
    println!("files: {:?}", client.list().await?);
    println!("again: {:?}", client.list().await?);
    println!("token refreshes so far: {}", endpoint.request_count());
    clock.advance(Duration::from_secs(3600));
    println!("an hour later (fake time): {:?}", client.list().await?);
    println!("token refreshes so far: {}", endpoint.request_count());
    Ok(())
}

// ===== The tests =====

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use credkit_testing::Reply;

    use super::*;

    const BASE: &str = "https://files.example.test";

    #[tokio::test]
    async fn sends_the_bearer_token_and_reads_the_list() {
        let clock = FakeClock::new();
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_reply(Reply::token("ya29.first"));
        let mut api = MockTransport::new();
        api.expect_send()
            .withf(|request| {
                request.uri() == "https://files.example.test/files"
                    && request.headers()[AUTHORIZATION] == "Bearer ya29.first"
            })
            .times(1)
            .returning(|_| Ok(response(200, FILES)));
        let client = FilesClient::new(credentials(&endpoint, &clock).unwrap(), Arc::new(api), BASE);

        assert_eq!(client.list().await.unwrap(), ["notes.txt", "report.pdf"]);
        assert_eq!(endpoint.request_count(), 1);
    }

    #[tokio::test]
    async fn reuses_the_token_until_it_expires() {
        let clock = FakeClock::new();
        let endpoint = FakeTokenEndpoint::new();
        let client = FilesClient::new(
            credentials(&endpoint, &clock).unwrap(),
            Arc::new(api()),
            BASE,
        );

        client.list().await.unwrap();
        client.list().await.unwrap();
        assert_eq!(
            endpoint.request_count(),
            1,
            "the second call used the cache"
        );

        clock.advance(Duration::from_secs(3600)); // the one-hour token has expired
        client.list().await.unwrap();
        assert_eq!(endpoint.request_count(), 2);
    }

    #[tokio::test]
    async fn a_401_gets_one_new_token_and_one_retry() {
        let clock = FakeClock::new();
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_replies([Reply::token("ya29.revoked"), Reply::token("ya29.new")]);
        let calls = AtomicUsize::new(0);
        let mut api = MockTransport::new();
        api.expect_send().times(2).returning(move |request| {
            let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
            let bearer = &request.headers()[AUTHORIZATION];
            Ok(if first {
                assert_eq!(bearer, "Bearer ya29.revoked");
                response(401, "{}")
            } else {
                assert_eq!(bearer, "Bearer ya29.new");
                response(200, FILES)
            })
        });
        let client = FilesClient::new(credentials(&endpoint, &clock).unwrap(), Arc::new(api), BASE);

        assert_eq!(client.list().await.unwrap().len(), 2);
        assert_eq!(endpoint.request_count(), 2);
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_fails_at_once_without_calling_the_api() {
        let clock = FakeClock::new();
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_reply(Reply::oauth_error(
            400,
            "invalid_grant",
            Some("Token has been expired or revoked."),
        ));
        let mut api = MockTransport::new();
        api.expect_send().never();
        let client = FilesClient::new(credentials(&endpoint, &clock).unwrap(), Arc::new(api), BASE);

        let ApiError::Credentials(err) = client.list().await.unwrap_err() else {
            panic!("expected a credentials error");
        };
        assert_eq!(err.oauth_error(), Some("invalid_grant"));
        assert!(!err.is_transient());
        assert_eq!(
            err.to_string(),
            "invalid_grant: Token has been expired or revoked."
        );
        assert_eq!(
            endpoint.request_count(),
            1,
            "a permanent error is not retried"
        );
    }

    #[tokio::test]
    async fn a_busy_token_endpoint_is_retried_in_fake_time() {
        // Auto-advance: each backoff moves the fake clock instead of sleeping.
        let clock = FakeClock::new().with_auto_advance(true);
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_replies([
            Reply::html(503, "<html>Service Unavailable</html>"),
            Reply::default_token(),
        ]);
        let client = FilesClient::new(
            credentials(&endpoint, &clock).unwrap(),
            Arc::new(api()),
            BASE,
        );

        assert_eq!(client.list().await.unwrap().len(), 2);
        assert_eq!(endpoint.request_count(), 2);
        let waits = clock.sleeps();
        assert_eq!(waits.len(), 1);
        assert!(waits[0] >= Duration::from_millis(900), "{waits:?}");
    }

    #[test]
    fn the_example_runs() {
        main().unwrap();
    }
}
