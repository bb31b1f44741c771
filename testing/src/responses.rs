//! Responses for mocks, and `block_on` for synchronous test bodies.

use std::future::Future;

use bytes::Bytes;
use credkit_core::{Result, Transport};

use crate::{FakeClock, FakeTokenEndpoint, Reply};

/// An `http::Response<Bytes>` with `status` and `body`, for a
/// [`MockTransport`](crate::MockTransport) or a mock of your own.
///
/// A status outside 100 to 999 becomes 500.
///
/// ```
/// use credkit_testing::{MockTransport, response};
///
/// let mut api = MockTransport::new();
/// api.expect_send().returning(|_| Ok(response(401, "{}")));
/// assert_eq!(response(200, r#"{"files":[]}"#).status(), 200);
/// ```
pub fn response(status: u16, body: impl Into<Bytes>) -> http::Response<Bytes> {
    let mut response = http::Response::new(body.into());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// A JSON response (`content-type: application/json`) with `status` and `value`.
///
/// ```
/// let r = credkit_testing::json_response(200, &serde_json::json!({"files": ["a.txt"]}));
/// assert_eq!(r.headers()["content-type"], "application/json");
/// ```
pub fn json_response(status: u16, value: &serde_json::Value) -> http::Response<Bytes> {
    let mut response = response(status, value.to_string());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// What a conforming [`Transport`] returns for a scripted [`Reply`], as the in-memory
/// [`FakeTokenEndpoint`] maps it: an ordinary reply becomes its response; a stall or a drip a
/// transient timeout error; a reset a transient transport error; an oversize body a permanent
/// error; a redirect its `302`, not followed. A [`Reply::with_delay`] passes at once.
///
/// # Errors
///
/// The transport error a hostile reply stands for.
///
/// ```
/// use credkit_testing::{MockTransport, Reply, reply_response};
///
/// let mut transport = MockTransport::new();
/// transport.expect_send().returning(|_| reply_response(Reply::reset()));
/// assert!(reply_response(Reply::reset()).unwrap_err().is_transient());
/// assert_eq!(reply_response(Reply::html(503, "<html>busy</html>"))?.status(), 503);
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub fn reply_response(reply: Reply) -> Result<http::Response<Bytes>> {
    let endpoint = FakeTokenEndpoint::new().with_clock(FakeClock::new().with_auto_advance(true));
    endpoint.push_reply(reply);
    let request = http::Request::post(endpoint.token_url()).body(Bytes::new())?;
    // The in-memory endpoint never waits on anything but its auto-advancing clock.
    block_on(endpoint.send(request))
}

/// Runs a future to completion on the current thread: for synchronous test bodies, such as a
/// `proptest!` case, that drive credkit's futures. credkit's core and the fakes need no async
/// runtime; code that needs tokio's needs a tokio runtime instead.
///
/// ```
/// use credkit_core::{AccessToken, StaticSource, TokenSource};
/// use credkit_testing::block_on;
///
/// let token = block_on(StaticSource::new(AccessToken::new("t")).fetch_token())?;
/// assert_eq!(token.token_type(), "Bearer");
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}
