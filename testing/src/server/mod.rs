//! The fake OAuth token endpoint: over real HTTP on 127.0.0.1 ([`FakeTokenServer`]) or in memory
//! ([`FakeTokenEndpoint`]), answering from one script of [`Reply`]s and recording every
//! [`RecordedRequest`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod api;
mod bearer;
mod endpoint;
mod jwt_bearer;
mod record;
pub(crate) use record::{is_form, redacted_form, redacted_headers};
mod reply;
mod rotation;
mod script;
mod serve;

pub use api::FakeApiServer;
pub use endpoint::{FakeTokenEndpoint, IN_MEMORY_TOKEN_URL};
pub use jwt_bearer::JwtBearerCheck;
pub use record::RecordedRequest;
pub use reply::{FAKE_EXPIRES_IN, Reply};

/// A real HTTP/1.1 OAuth token endpoint on `127.0.0.1`, at a port the OS picks, for tests.
///
/// It is the far side of a *token* request (its default reply is a new token, its last
/// scripted reply repeats). For the API your code calls with the tokens, use
/// [`FakeApiServer`](crate::FakeApiServer): the same machinery, with each scripted reply used
/// once, `200 {}` by default, and a bearer-token check.
///
/// # Examples
///
/// ```
/// use credkit_testing::{FakeTokenServer, Reply};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = FakeTokenServer::start().await?;
/// server
///     .push_reply(Reply::oauth_error(503, "temporarily_unavailable", None))
///     .push_reply(Reply::default_token());
/// assert!(server.token_url().starts_with("http://127.0.0.1:"));
///
/// // ... point the code under test at server.token_url(), then:
/// assert_eq!(server.request_count(), 0);
/// # Ok(())
/// # }
/// ```
///
/// It is built on hyper, serves every path (recording which), and answers each request with
/// the next scripted [`Reply`]: the last one repeats, and with no script every request gets
/// [`Reply::default_token`], a new `fake-access-token-<n>` valid for an hour. Replies can be
/// hostile: a stall after the headers, a body that drips forever, a reset connection, an
/// oversize body, an HTML error page, a redirect (always to this same server).
///
/// Every request is recorded ([`requests`](Self::requests)) with its method, path, headers,
/// body and form fields, before it is answered.
///
/// [`endpoint`](Self::endpoint) gives the same script and record as an in-memory
/// [`Transport`](credkit_core::Transport).
///
/// It must be started inside a tokio runtime (with I/O and time enabled). Dropping it stops the
/// server and closes every connection it still has open.
#[derive(Debug)]
pub struct FakeTokenServer {
    addr: SocketAddr,
    base: Arc<str>,
    endpoint: FakeTokenEndpoint,
    task: JoinHandle<()>,
}

impl FakeTokenServer {
    /// Starts a server with an empty script on `127.0.0.1` at an ephemeral port.
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound.
    pub async fn start() -> io::Result<Self> {
        Self::serve(FakeTokenEndpoint::new()).await
    }

    /// Starts a server that answers from `endpoint`'s script and records into its record, so
    /// the same endpoint can be used in memory and over HTTP at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use credkit_testing::{FakeTokenEndpoint, FakeTokenServer, Reply};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let endpoint = FakeTokenEndpoint::new();
    /// endpoint.push_reply(Reply::token("scripted before start"));
    /// let server = FakeTokenServer::serve(endpoint.clone()).await?;
    /// assert_eq!(server.endpoint().pending_replies(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound.
    pub async fn serve(endpoint: FakeTokenEndpoint) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let base: Arc<str> = Arc::from(format!("http://{addr}"));
        let task = tokio::spawn(serve::accept_loop(
            listener,
            Arc::clone(&endpoint.shared),
            Arc::clone(&base),
        ));
        Ok(Self {
            addr,
            base,
            endpoint,
            task,
        })
    }

    /// The address the server listens on: `127.0.0.1` and its port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's base URL, `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        self.base.to_string()
    }

    /// The token endpoint's URL, `http://127.0.0.1:<port>/token`. (Every path is served; this
    /// is the conventional one.)
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// The script and record as an in-memory endpoint; clones share them with this server.
    pub fn endpoint(&self) -> &FakeTokenEndpoint {
        &self.endpoint
    }

    /// Appends `reply` to the script. Returns `self` so pushes chain.
    pub fn push_reply(&self, reply: Reply) -> &Self {
        self.endpoint.push_reply(reply);
        self
    }

    /// Appends every reply of `replies` to the script, in order.
    pub fn push_replies(&self, replies: impl IntoIterator<Item = Reply>) -> &Self {
        self.endpoint.push_replies(replies);
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.endpoint.requests()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.endpoint.request_count()
    }

    /// Waits until at least `count` requests were received (see
    /// [`FakeTokenEndpoint::wait_for_requests`]).
    pub async fn wait_for_requests(&self, count: usize) {
        self.endpoint.wait_for_requests(count).await;
    }

    /// Turns strict rotation on (see [`FakeTokenEndpoint::set_strict_rotation`]).
    pub fn set_strict_rotation(&self, initial_refresh_token: &str) -> &Self {
        self.endpoint.set_strict_rotation(initial_refresh_token);
        self
    }

    /// Checks JWT-bearer grants from now on (see [`JwtBearerCheck`]): a grant whose assertion
    /// fails gets `invalid_grant` naming what failed, one that asks for an ID token gets one.
    pub fn accept_jwt_bearer(&self, check: JwtBearerCheck) -> &Self {
        self.endpoint.accept_jwt_bearer(check);
        self
    }

    /// The refresh token strict rotation accepts now (see
    /// [`FakeTokenEndpoint::valid_refresh_token`]).
    pub fn valid_refresh_token(&self) -> Option<String> {
        self.endpoint.valid_refresh_token()
    }

    /// The latest request, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.endpoint.last_request()
    }

    /// Stops the server and waits until it has: once this returns, the port refuses
    /// connections and every open connection is closed. Dropping the server does the same
    /// without waiting.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = credkit_testing::FakeTokenServer::start().await?;
    /// let addr = server.addr();
    /// server.shutdown().await;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown(mut self) {
        self.task.abort();
        // The accept task never ends by itself, so this is its cancellation: nothing to report.
        let _ = (&mut self.task).await;
    }
}

impl Drop for FakeTokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
