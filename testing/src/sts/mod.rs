//! `FakeStsServer`: Google's Security Token Service (the RFC 8693 token exchange and the
//! refresh-token grant) on 127.0.0.1.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use credkit_core::{Clock, SystemClock};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod reply;
mod request;
mod serve;

pub use reply::StsReply;
pub use request::StsRequest;

/// What the fake's generated access tokens start with: with an empty script, the `n`-th
/// token it generates is `"{FAKE_STS_TOKEN}-{n}"` (from 1).
pub const FAKE_STS_TOKEN: &str = "fake-sts-access-token";

/// What the refresh tokens strict rotation issues start with: the `n`-th is
/// `"{FAKE_STS_REFRESH_TOKEN}-{n}"` (from 1).
pub const FAKE_STS_REFRESH_TOKEN: &str = "fake-sts-refresh-token";

/// Google's Security Token Service on 127.0.0.1, for tests of workload and workforce identity
/// federation.
///
/// It serves `POST /v1/token`, and any other path ending in `/token` the same way (so a test
/// can give a credentials file `{url}/v1/oauth/token`, as gcloud writes for
/// `external_account_authorized_user`); any other path is `404`, any other method `405`. The
/// body must be `application/x-www-form-urlencoded`. Two grants:
///
/// - **The token exchange** (RFC 8693, as Google's STS wants it): `grant_type`
///   `urn:ietf:params:oauth:grant-type:token-exchange`, `requested_token_type`
///   `urn:ietf:params:oauth:token-type:access_token`, `subject_token`, `subject_token_type`
///   and `audience`; `scope` (space-separated) and `options` (percent-encoded JSON, such as
///   `{"userProject": "123"}`) optional. Answers `{"access_token", "issued_token_type":
///   "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in":
///   3600}`.
/// - **The refresh-token grant** (`grant_type=refresh_token`, `refresh_token`), which
///   `external_account_authorized_user` credentials use. It wants client authentication.
///   Answers `{"access_token", "token_type": "Bearer", "expires_in"}`; under
///   [strict rotation](FakeStsServerBuilder::with_strict_rotation), with a new
///   `refresh_token` each time, and only the newest one is accepted.
///
/// The checks, in order, each failing as STS does: a form body (400 `invalid_request`); the
/// client (`Authorization: Basic base64(id:secret)`), when
/// [`with_client`](FakeStsServerBuilder::with_client) names one (missing or different: 401
/// `invalid_client`, as RFC 6749 says for a client that authenticated in the header); a known
/// grant (400 `unsupported_grant_type`); the grant's required members (400
/// `invalid_request`); `requested_token_type`, `subject_token_type`, `audience` and `options`
/// (400 `invalid_request`); the subject token and the refresh token (400 `invalid_grant`).
/// Every error is `{"error", "error_description"}`, and no error ever echoes a token. What is
/// checked against an expected value is only what the builder names: by default any
/// audience, subject token, subject token type and client goes.
///
/// A request that passes the checks gets the next scripted [`StsReply`]
/// ([`push_reply`](Self::push_reply)), each used once; with none left, a generated token,
/// [`FAKE_STS_TOKEN`]`-{n}`. A request the checks refuse uses no reply. Every request is
/// recorded first ([`requests`](Self::requests)), with the form decoded and the time of
/// arrival on the server's [clock](FakeStsServerBuilder::with_clock).
///
/// It must be started inside a tokio runtime; dropping it stops it.
///
/// # Examples
///
/// ```
/// use credkit_testing::{FakeStsServer, StsReply};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sts = FakeStsServer::builder()
///     .with_audience("//iam.googleapis.com/locations/global/workforcePools/p/providers/q")
///     .with_subject_token("the-oidc-token")
///     .with_client("client-id", "client-secret")
///     .start()
///     .await?;
/// sts.push_reply(StsReply::oauth_error(503, "temporarily_unavailable", None));
/// assert_eq!(sts.token_url(), format!("{}/v1/token", sts.url()));
///
/// // A real request: the exchange, with the client in the Authorization header.
/// let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
///     &audience=%2F%2Fiam.googleapis.com%2Flocations%2Fglobal%2FworkforcePools%2Fp%2Fproviders%2Fq\
///     &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
///     &subject_token=the-oidc-token&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token";
/// let mut stream = tokio::net::TcpStream::connect(sts.addr()).await?;
/// let request = format!(
///     "POST /v1/token HTTP/1.1\r\nhost: sts\r\nconnection: close\r\n\
///      authorization: Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ=\r\n\
///      content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
///     body.len()
/// );
/// tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await?;
/// let mut answer = String::new();
/// tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await?;
/// assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
///
/// let seen = sts.last_request().expect("one request");
/// assert_eq!(seen.form_value("subject_token"), Some("the-oidc-token"));
/// assert_eq!(seen.basic_auth(), Some(("client-id".to_owned(), "client-secret".to_owned())));
/// # Ok(())
/// # }
/// ```
pub struct FakeStsServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

/// Builds a [`FakeStsServer`]; from [`FakeStsServer::builder`].
#[must_use]
pub struct FakeStsServerBuilder {
    expected: Expected,
    clock: Arc<dyn Clock>,
    expires_in: u64,
    refresh: RefreshPolicy,
}

/// What the checks compare with; `None` accepts anything.
#[derive(Clone, Debug, Default)]
pub(crate) struct Expected {
    pub(crate) audience: Option<String>,
    pub(crate) subject_token: Option<String>,
    pub(crate) subject_token_type: Option<String>,
    pub(crate) client: Option<(String, String)>,
}

/// Which refresh tokens the refresh grant accepts.
#[derive(Clone, Debug)]
pub(crate) enum RefreshPolicy {
    /// Any.
    Any,
    /// Only this one, for ever.
    Fixed(String),
    /// Only the newest: every success issues a new one.
    Strict(String),
}

pub(crate) struct State {
    pub(crate) expected: Expected,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) expires_in: u64,
    pub(crate) inner: Mutex<Inner>,
}

/// The mutable half, behind one lock: a request is recorded, checked and given its reply in
/// one step, so two requests with the same refresh token cannot both win a rotation.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) script: VecDeque<StsReply>,
    pub(crate) record: Vec<StsRequest>,
    pub(crate) generated: u64,
    pub(crate) refresh: RefreshPolicy,
    pub(crate) rotations: u64,
    pub(crate) hang: bool,
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FakeStsServerBuilder {
    /// The one audience exchanges may name; another gets 400 `invalid_request`. Default: any.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.expected.audience = Some(audience.into());
        self
    }

    /// The one subject token exchanges may carry; another gets 400 `invalid_grant`. Default:
    /// any.
    pub fn with_subject_token(mut self, token: impl Into<String>) -> Self {
        self.expected.subject_token = Some(token.into());
        self
    }

    /// The one `subject_token_type` exchanges may name; another gets 400 `invalid_request`.
    /// Default: any.
    pub fn with_subject_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.expected.subject_token_type = Some(token_type.into());
        self
    }

    /// The OAuth client every request must authenticate as, with `Authorization: Basic
    /// base64(id:secret)` (an empty `secret` for a client without one); anything else gets
    /// 401 `invalid_client`. Default: any client, or none for the exchange (the refresh grant
    /// always wants one).
    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.expected.client = Some((id.into(), secret.into()));
        self
    }

    /// The refresh grant accepts only `refresh_token`, and never rotates it. Default: any
    /// refresh token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.refresh = RefreshPolicy::Fixed(refresh_token.into());
        self
    }

    /// Strict rotation: the refresh grant accepts only `initial`, and every successful refresh
    /// answers a new refresh token ([`FAKE_STS_REFRESH_TOKEN`]`-{n}`, or the one a scripted
    /// [`StsReply::rotation`] names), which alone is accepted from then on. An old one gets
    /// 400 `invalid_grant`, so a client that loses a rotation fails loudly.
    pub fn with_strict_rotation(mut self, initial: impl Into<String>) -> Self {
        self.refresh = RefreshPolicy::Strict(initial.into());
        self
    }

    /// The `expires_in` of tokens, in seconds. Default 3600, as STS.
    pub fn with_expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = seconds;
        self
    }

    /// The clock the arrival of requests is read from ([`StsRequest::received_at`]). Default:
    /// the system clock.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Binds 127.0.0.1 on a free port and serves.
    ///
    /// # Errors
    ///
    /// Binding the port.
    pub async fn start(self) -> io::Result<FakeStsServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            expected: self.expected,
            clock: self.clock,
            expires_in: self.expires_in,
            inner: Mutex::new(Inner {
                script: VecDeque::new(),
                record: Vec::new(),
                generated: 0,
                refresh: self.refresh,
                rotations: 0,
                hang: false,
            }),
        });
        let task = tokio::spawn(serve::accept_loop(listener, Arc::clone(&state)));
        Ok(FakeStsServer { addr, state, task })
    }
}

impl FakeStsServer {
    /// Starts a server with the defaults: any audience, subject token and client.
    ///
    /// # Errors
    ///
    /// Binding the port.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder.
    pub fn builder() -> FakeStsServerBuilder {
        FakeStsServerBuilder {
            expected: Expected::default(),
            clock: Arc::new(SystemClock),
            expires_in: 3600,
            refresh: RefreshPolicy::Any,
        }
    }

    /// `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:{port}/v1/token`, STS's endpoint. (Any path ending in `/token` is
    /// served the same.)
    pub fn token_url(&self) -> String {
        format!("{}/v1/token", self.url())
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends `reply` to the script. Returns `self` so pushes chain.
    pub fn push_reply(&self, reply: StsReply) -> &Self {
        self.state.lock().script.push_back(reply);
        self
    }

    /// Appends every reply of `replies` to the script, in order.
    pub fn push_replies(&self, replies: impl IntoIterator<Item = StsReply>) -> &Self {
        self.state.lock().script.extend(replies);
        self
    }

    /// How many scripted replies are still unused.
    pub fn pending_replies(&self) -> usize {
        self.state.lock().script.len()
    }

    /// While `true`, every request is recorded and then never answered.
    pub fn set_hang(&self, hang: bool) {
        self.state.lock().hang = hang;
    }

    /// The refresh token the refresh grant accepts now, under
    /// [`with_refresh_token`](FakeStsServerBuilder::with_refresh_token) or strict rotation;
    /// `None` when any is accepted.
    pub fn valid_refresh_token(&self) -> Option<String> {
        match &self.state.lock().refresh {
            RefreshPolicy::Any => None,
            RefreshPolicy::Fixed(token) | RefreshPolicy::Strict(token) => Some(token.clone()),
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<StsRequest> {
        self.state.lock().record.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.state.lock().record.len()
    }

    /// The latest request, if any.
    pub fn last_request(&self) -> Option<StsRequest> {
        self.state.lock().record.last().cloned()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.lock().record.clear();
    }
}

impl Drop for FakeStsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for FakeStsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeStsServer")
            .field("addr", &self.addr)
            .field("requests", &self.request_count())
            .field("pending_replies", &self.pending_replies())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for FakeStsServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refresh = match self.refresh {
            RefreshPolicy::Any => "any",
            RefreshPolicy::Fixed(_) => "fixed",
            RefreshPolicy::Strict(_) => "strict rotation",
        };
        f.debug_struct("FakeStsServerBuilder")
            .field("audience", &self.expected.audience)
            .field("subject_token", &self.expected.subject_token.is_some())
            .field("subject_token_type", &self.expected.subject_token_type)
            .field(
                "client_id",
                &self.expected.client.as_ref().map(|(id, _)| id),
            )
            .field("refresh", &refresh)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
