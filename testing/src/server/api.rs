//! `FakeApiServer`: the fake token endpoint's machinery serving as the API your code calls.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;

use super::script::Shared;
use super::{FakeTokenEndpoint, FakeTokenServer, RecordedRequest, Reply};

/// A real HTTP/1.1 server on `127.0.0.1` standing in for the API your code calls with
/// credkit's credentials: it answers any method on any path, records every request with its
/// headers, plays scripted [`Reply`]s (a `401` once, a `503`, a body your code parses), and can
/// check the bearer token as the real API would.
///
/// # Examples
///
/// Testing a function of yours that takes `&Credentials` and a URL, sends a GET with the
/// credentials' headers, and retries once after a `401`:
///
/// ```
/// use credkit_core::Credentials;
/// use credkit_testing::{FakeApiServer, scripted_credentials};
///
/// /// The code under test.
/// async fn list_files(credentials: &Credentials, url: &str) -> Result<String, Box<dyn std::error::Error>> {
///     let client = reqwest::Client::new();
///     for _ in 0..2 {
///         let headers = credentials.headers().await?;
///         let response = client.get(url).headers(headers.clone()).send().await?;
///         if response.status() == 401 {
///             credentials.invalidate_if(&headers); // the next headers() refreshes
///             continue;
///         }
///         return Ok(response.error_for_status()?.text().await?);
///     }
///     Err("refused twice".into())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kit = scripted_credentials(["ya29.revoked", "ya29.new"]);
/// let api = FakeApiServer::start().await?;
/// api.reject_bearer("ya29.revoked");
/// list_files(&kit.credentials, &format!("{}/v1/files", api.url())).await?;
/// assert_eq!(api.bearer_tokens(), ["ya29.revoked", "ya29.new"]);
/// assert_eq!(kit.source.fetches(), 2); // one refresh for the 401
/// # Ok(())
/// # }
/// ```
///
/// # What it answers
///
/// Each request is recorded first, then answered:
///
/// 1. **The bearer check**, when one is set: [`Reply::unauthorized`] (a `401` with
///    `WWW-Authenticate: Bearer error="invalid_token"`, as Google's APIs answer) for a token
///    given to [`reject_bearer`](Self::reject_bearer), and, once
///    [`accept_bearer`](Self::accept_bearer) named any, for every token not named (a request
///    without one included). A refused request does not use up the script.
/// 2. **The script**: each [`push_reply`](Self::push_reply)ed reply answers **one** request,
///    in order. (Unlike [`FakeTokenServer`], whose last reply repeats: an API's `401` is
///    usually a one-off.)
/// 3. **The default reply**: `200` with the JSON body `{}`, or the one given to
///    [`set_default_reply`](Self::set_default_reply).
///
/// Hostile replies ([`Reply::stall`], [`Reply::reset`], ...) work here as on the token server.
/// The server speaks plain `http`: the code under test must let a loopback URL through (most
/// clients do; credkit's adapters allow plain http to loopback only).
///
/// It is built on the [`FakeTokenServer`]'s machinery and must be started inside a tokio
/// runtime (with I/O and time enabled). Dropping it stops it.
#[derive(Debug)]
pub struct FakeApiServer {
    server: FakeTokenServer,
}

impl FakeApiServer {
    /// Starts a server with an empty script and no bearer check on `127.0.0.1` at an
    /// ephemeral port: every request gets `200 {}` until told otherwise.
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound.
    pub async fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared::api(Reply::json(200, json!({}))));
        let server = FakeTokenServer::serve(FakeTokenEndpoint::with_shared(shared)).await?;
        Ok(Self { server })
    }

    /// The address the server listens on: `127.0.0.1` and its port.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The server's base URL, `http://127.0.0.1:<port>`, without a trailing slash: append any
    /// path.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Appends `reply` to the script: it answers one request. Returns `self` so pushes chain.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use credkit_testing::{FakeApiServer, Reply};
    ///
    /// let api = FakeApiServer::start().await?;
    /// api.push_reply(Reply::unauthorized()); // the first request only
    /// let client = reqwest::Client::new();
    /// assert_eq!(client.get(api.url()).send().await?.status(), 401);
    /// assert_eq!(client.get(api.url()).send().await?.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_reply(&self, reply: Reply) -> &Self {
        self.server.push_reply(reply);
        self
    }

    /// Appends every reply of `replies` to the script, in order, each for one request.
    pub fn push_replies(&self, replies: impl IntoIterator<Item = Reply>) -> &Self {
        self.server.push_replies(replies);
        self
    }

    /// The reply once the script is used up. Default: `200` with the JSON body `{}`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use credkit_testing::{FakeApiServer, Reply};
    ///
    /// let api = FakeApiServer::start().await?;
    /// api.set_default_reply(Reply::json(200, serde_json::json!({"files": []})));
    /// let body = reqwest::get(format!("{}/v1/files", api.url())).await?.text().await?;
    /// assert_eq!(body, r#"{"files":[]}"#);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_default_reply(&self, reply: Reply) -> &Self {
        self.server.endpoint().shared.set_after_script(reply);
        self
    }

    /// Accepts `token` as a bearer token, and from now on refuses every token not accepted
    /// (and a request without one) with [`Reply::unauthorized`]. May be called more than once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let api = credkit_testing::FakeApiServer::start().await?;
    /// api.accept_bearer("ya29.good");
    /// let client = reqwest::Client::new();
    /// assert_eq!(client.get(api.url()).bearer_auth("ya29.good").send().await?.status(), 200);
    /// assert_eq!(client.get(api.url()).bearer_auth("ya29.bad").send().await?.status(), 401);
    /// assert_eq!(client.get(api.url()).send().await?.status(), 401);
    /// # Ok(())
    /// # }
    /// ```
    pub fn accept_bearer(&self, token: &str) -> &Self {
        self.server.endpoint().shared.accept_bearer(token);
        self
    }

    /// Refuses `token` as a bearer token from now on, with [`Reply::unauthorized`], as an API
    /// refuses a revoked or expired token; other tokens are answered as before. May be called
    /// more than once.
    pub fn reject_bearer(&self, token: &str) -> &Self {
        self.server.endpoint().shared.reject_bearer(token);
        self
    }

    /// Every request received so far, in order, refused ones included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The latest request, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.server.last_request()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    /// The bearer token of every request received so far, in order: what your code sent. A
    /// request without an `Authorization: Bearer` header shows as an empty string.
    pub fn bearer_tokens(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|request| request.bearer_token().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until at least `count` requests were received: a real event to wait on, in place
    /// of a sleep.
    pub async fn wait_for_requests(&self, count: usize) {
        self.server.wait_for_requests(count).await;
    }

    /// Stops the server and waits until it has (see [`FakeTokenServer::shutdown`]).
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
