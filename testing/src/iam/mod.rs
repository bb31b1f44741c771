//! `FakeIamServer`: the IAM Credentials API (`generateAccessToken`, `generateIdToken`,
//! `signBlob`, `signJwt`) and the JWT-bearer grant of domain-wide delegation, on 127.0.0.1.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use bytes::Bytes;
use credkit_core::{Clock, SystemClock};

use crate::IdTokenMinter;
use http::{HeaderMap, Method};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::TestKey;

mod serve;

/// What the fake's access tokens start with: `generateAccessToken` for `principal` answers
/// `"{FAKE_IAM_TOKEN}-{principal}"` (see [`FakeIamServer::access_token_for`]).
pub const FAKE_IAM_TOKEN: &str = "fake-iam-access-token";

/// The access token the fake's JWT-bearer grant (`POST /token`) answers.
pub const FAKE_IAM_DWD_TOKEN: &str = "fake-iam-delegated-access-token";

/// The IAM Credentials API on 127.0.0.1, for tests of impersonation.
///
/// - `POST /v1/projects/-/serviceAccounts/{principal}:generateAccessToken`: answers
///   `{"accessToken": "fake-iam-access-token-{principal}", "expireTime": now + lifetime}`
///   (the request's `lifetime`, default 3600 s, on the fake's clock).
/// - `…:generateIdToken`: a JWT for the request's `audience` (400 `INVALID_ARGUMENT`
///   without one), `exp` one hour after `iat`, with `email` when `includeEmail`; signed RS256
///   with the fake's per-run key, or minted by [`FakeIamServerBuilder::with_id_token_minter`].
/// - `…:signBlob`: a real RS256 signature of the base64 `payload` with the per-run key
///   ([`verify`](Self::verify) checks one), and its `keyId`.
/// - `…:signJwt`: the `payload` claims signed as a JWT with the same key.
/// - `POST /token`: the JWT-bearer grant (any `assertion`), answering [`FAKE_IAM_DWD_TOKEN`].
///
/// Every IAM method wants `authorization: Bearer …`; with
/// [`with_accepted_bearer`](FakeIamServerBuilder::with_accepted_bearer) only the tokens named
/// (anything else: 401 `UNAUTHENTICATED`, Google's error JSON). Scripted faults
/// ([`fail_next`](Self::fail_next), [`push_reply`](Self::push_reply),
/// [`set_hang`](Self::set_hang)) come before routing. Every request is recorded
/// ([`requests`](Self::requests)).
///
/// # Examples
///
/// ```
/// use credkit_testing::FakeIamServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let iam = FakeIamServer::builder().with_accepted_bearer("ya29.source").start().await?;
/// assert!(iam.url().starts_with("http://127.0.0.1:"));
/// assert_eq!(
///     iam.access_token_for("robot@p.iam.gserviceaccount.com"),
///     "fake-iam-access-token-robot@p.iam.gserviceaccount.com"
/// );
/// # Ok(())
/// # }
/// ```
pub struct FakeIamServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: Option<JoinHandle<()>>,
}

/// Builds a [`FakeIamServer`]; from [`FakeIamServer::builder`].
#[must_use]
pub struct FakeIamServerBuilder {
    accepted: HashSet<String>,
    clock: Arc<dyn Clock>,
    key: Option<TestKey>,
    minter: Option<IdTokenMinter>,
}

/// A scripted answer, served before routing.
#[derive(Clone, Debug)]
enum Fault {
    Reply {
        status: u16,
        content_type: String,
        body: String,
        retry_after: Option<String>,
    },
    Hang,
}

pub(crate) struct State {
    accepted: HashSet<String>,
    clock: Arc<dyn Clock>,
    key: TestKey,
    pair: RsaKeyPair,
    minter: Option<IdTokenMinter>,
    faults: Mutex<VecDeque<Fault>>,
    hang: Mutex<bool>,
    record: Mutex<Vec<IamRequest>>,
}

impl State {
    fn faults(&self) -> MutexGuard<'_, VecDeque<Fault>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hang(&self) -> MutexGuard<'_, bool> {
        self.hang.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self) -> MutexGuard<'_, Vec<IamRequest>> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FakeIamServerBuilder {
    /// Accept this bearer token (repeatable); once any is named, others get a 401. Default:
    /// any bearer token.
    pub fn with_accepted_bearer(mut self, token: impl Into<String>) -> Self {
        self.accepted.insert(token.into());
        self
    }

    /// The clock `expireTime`, `iat` and `exp` are read from. Default: the system clock.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The key `signBlob`, `signJwt` and the default ID tokens are signed with. Default: one
    /// generated for this server.
    pub fn with_key(mut self, key: TestKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Mints `generateIdToken`'s tokens from their claims (another test issuer's signer).
    /// Default: an RS256 JWT signed with the server's key.
    pub fn with_id_token_minter(
        mut self,
        minter: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static,
    ) -> Self {
        self.minter = Some(IdTokenMinter::new(minter));
        self
    }

    /// Binds 127.0.0.1 on a free port and serves.
    ///
    /// # Errors
    ///
    /// Binding the port, or generating the key.
    pub async fn start(self) -> io::Result<FakeIamServer> {
        let key = match self.key {
            Some(key) => key,
            None => TestKey::generate()?,
        };
        let der = pem::parse(key.private_key_pem())
            .map_err(|_| io::Error::other("FakeIamServer: the key's PEM is unreadable"))?;
        let pair = RsaKeyPair::from_pkcs8(der.contents())
            .map_err(|_| io::Error::other("FakeIamServer: the key is not an RSA PKCS#8 key"))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            accepted: self.accepted,
            clock: self.clock,
            key,
            pair,
            minter: self.minter,
            faults: Mutex::new(VecDeque::new()),
            hang: Mutex::new(false),
            record: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(serve::accept_loop(listener, Arc::clone(&state)));
        Ok(FakeIamServer {
            addr,
            state,
            task: Some(task),
        })
    }
}

impl FakeIamServer {
    /// Starts a server with the defaults.
    ///
    /// # Errors
    ///
    /// As [`FakeIamServerBuilder::start`].
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder.
    pub fn builder() -> FakeIamServerBuilder {
        FakeIamServerBuilder {
            accepted: HashSet::new(),
            clock: Arc::new(SystemClock),
            key: None,
            minter: None,
        }
    }

    /// `http://127.0.0.1:{port}`: the IAM base URL (and `{url}/token` the grant's endpoint).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access token `generateAccessToken` answers for `principal`.
    pub fn access_token_for(&self, principal: &str) -> String {
        format!("{FAKE_IAM_TOKEN}-{principal}")
    }

    /// The key the server signs with.
    pub fn key(&self) -> &TestKey {
        &self.state.key
    }

    /// The ID of that key, as `signBlob` and `signJwt` report it.
    pub fn key_id(&self) -> &str {
        self.state.key.key_id()
    }

    /// Whether `signature` is the server key's RS256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.state.key.public_key_der())
            .verify(message, signature)
            .is_ok()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<IamRequest> {
        self.state.record().clone()
    }

    /// The number of requests received so far.
    pub fn request_count(&self) -> usize {
        self.state.record().len()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.record().clear();
    }

    /// The next `count` requests get `status` with Google's error JSON
    /// (`{"error":{"code":…,"message":"fake IAM failure","status":…}}`).
    pub fn fail_next(&self, count: usize, status: u16) {
        let body = serde_json::json!({"error": {
            "code": status,
            "message": "fake IAM failure",
            "status": status_name(status),
        }})
        .to_string();
        let mut faults = self.state.faults();
        for _ in 0..count {
            faults.push_back(Fault::Reply {
                status,
                content_type: "application/json; charset=UTF-8".to_owned(),
                body: body.clone(),
                retry_after: None,
            });
        }
    }

    /// The next request (after those already scripted) gets exactly this reply.
    pub fn push_reply(&self, status: u16, content_type: &str, body: impl Into<String>) {
        self.state.faults().push_back(Fault::Reply {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
            retry_after: None,
        });
    }

    /// As [`push_reply`](Self::push_reply), with a `Retry-After` header.
    pub fn push_reply_with_retry_after(
        &self,
        status: u16,
        content_type: &str,
        body: impl Into<String>,
        retry_after: &str,
    ) {
        self.state.faults().push_back(Fault::Reply {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
            retry_after: Some(retry_after.to_owned()),
        });
    }

    /// The next request (after those already scripted) is never answered.
    pub fn hang_next(&self) {
        self.state.faults().push_back(Fault::Hang);
    }

    /// While `true`, every request is left unanswered (after being recorded).
    pub fn set_hang(&self, hang: bool) {
        *self.state.hang() = hang;
    }
}

/// Google's canonical status name of an HTTP status, as its error JSON carries it.
pub(crate) fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl Drop for FakeIamServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for FakeIamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeIamServer")
            .field("addr", &self.addr)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for FakeIamServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeIamServerBuilder")
            .field("accepted_bearers", &self.accepted.len())
            .field("minter", &self.minter.is_some())
            .finish_non_exhaustive()
    }
}

/// A request the fake received.
#[derive(Clone)]
pub struct IamRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl IamRequest {
    /// The HTTP method.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The path, `/v1/projects/-/serviceAccounts/{principal}:{rpc}` for IAM methods.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The principal of an IAM method's path.
    pub fn principal(&self) -> Option<&str> {
        serve::split_path(&self.path).map(|(principal, _)| principal)
    }

    /// The IAM method of the path (`generateAccessToken`, `signBlob`, …).
    pub fn rpc(&self) -> Option<&str> {
        serve::split_path(&self.path).map(|(_, rpc)| rpc)
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as form pairs (the JWT-bearer grant's).
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

impl fmt::Debug for IamRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("IamRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}
