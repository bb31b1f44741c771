//! `FakeAwsMetadataServer`: AWS's instance metadata service (IMDS, v1 and v2) on 127.0.0.1, for
//! tests of AWS workload identity federation.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod serve;

/// The availability zone the fake answers by default (the region `us-east-2`).
pub const FAKE_AWS_ZONE: &str = "us-east-2b";

/// The role name the fake answers by default.
pub const FAKE_AWS_ROLE: &str = "fake-aws-role";

/// The role's access key ID, by default.
pub const FAKE_AWS_ACCESS_KEY_ID: &str = "ASIAFAKEACCESSKEYID0";

/// The role's secret access key, by default: distinctive, so finding it anywhere is a leak.
pub const FAKE_AWS_SECRET_ACCESS_KEY: &str = "fake/aws+secret-access-key-planted-0123456789";

/// The role's session token (`Token`), by default: distinctive too.
pub const FAKE_AWS_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEfake/aws+session-token-planted==";

/// The `IMDSv2` session token the fake hands out from `PUT /latest/api/token`.
pub const FAKE_IMDSV2_TOKEN: &str = "AQAEAfake-imdsv2-session-token-planted==";

/// The session token path.
const TOKEN_PATH: &str = "/latest/api/token";
/// The availability zone path.
const ZONE_PATH: &str = "/latest/meta-data/placement/availability-zone";
/// The security credentials path: the role name there, its credentials below.
const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials";

/// AWS's instance metadata service on 127.0.0.1, as the AWS source of workload identity
/// federation calls it:
///
/// | request | answer |
/// |---|---|
/// | `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds: 1..=21600` | the `IMDSv2` session token ([`FAKE_IMDSV2_TOKEN`]); `400` without a valid TTL, `405` for another method |
/// | `GET /latest/meta-data/placement/availability-zone` | the zone ([`FAKE_AWS_ZONE`]) |
/// | `GET /latest/meta-data/iam/security-credentials` (or with `/`) | the role name ([`FAKE_AWS_ROLE`]) |
/// | `GET /latest/meta-data/iam/security-credentials/ROLE` | `{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId", "SecretAccessKey", "Token", "LastUpdated", "Expiration"}`; another role, `404` |
///
/// A `GET` with an `X-aws-ec2-metadata-token` other than the session token answers `401`, as
/// does one without the header when the fake requires `IMDSv2`
/// ([`requiring_imdsv2`](FakeAwsMetadataServerBuilder::requiring_imdsv2),
/// [`set_require_imdsv2`](FakeAwsMetadataServer::set_require_imdsv2)). Every request is
/// recorded. Faults are scripted per endpoint ([`push_fault`](FakeAwsMetadataServer::push_fault)):
/// the next request to that endpoint gets the fault instead of its answer.
///
/// # Examples
///
/// ```
/// use credkit_testing::{AwsMetadataEndpoint, AwsMetadataFault, FakeAwsMetadataServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let imds = FakeAwsMetadataServer::builder().requiring_imdsv2(true).start().await?;
/// assert!(imds.region_url().starts_with("http://127.0.0.1:"));
/// // A credential_source for an external_account file, every URL pointing at the fake:
/// let source = imds.credential_source();
/// assert_eq!(source["environment_id"], "aws1");
/// imds.push_fault(AwsMetadataEndpoint::Credentials, AwsMetadataFault::Status(500));
/// # Ok(())
/// # }
/// ```
pub struct FakeAwsMetadataServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: Option<JoinHandle<()>>,
}

/// Builds a [`FakeAwsMetadataServer`]; from [`FakeAwsMetadataServer::builder`].
#[must_use]
pub struct FakeAwsMetadataServerBuilder {
    script: Script,
    require_imdsv2: bool,
}

/// The endpoints of the fake, for scripting faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AwsMetadataEndpoint {
    /// `PUT /latest/api/token`.
    SessionToken,
    /// The availability zone.
    Region,
    /// The role name.
    RoleName,
    /// The role's credentials.
    Credentials,
}

/// A scripted fault: what one request to an endpoint gets instead of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsMetadataFault {
    /// This status, with a body echoing the role's secret access key and session token (as a
    /// careless server might): an error that quotes the body leaks them.
    Status(u16),
    /// `200` with exactly these bytes (not JSON, not a name, not UTF-8: anything).
    Body(Bytes),
    /// `200` with this many bytes of JSON-looking filler.
    Huge(usize),
    /// `307 Temporary Redirect` to this location.
    Redirect(String),
    /// No answer, ever (the request is recorded).
    Hang,
}

/// What the fake answers.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    pub(crate) zone: String,
    pub(crate) role: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
    pub(crate) imdsv2_token: String,
}

pub(crate) struct State {
    pub(crate) script: Script,
    pub(crate) require_imdsv2: Mutex<bool>,
    pub(crate) faults: Mutex<HashMap<AwsMetadataEndpoint, VecDeque<AwsMetadataFault>>>,
    pub(crate) record: Mutex<Vec<AwsMetadataRequest>>,
}

impl State {
    pub(crate) fn record(&self) -> MutexGuard<'_, Vec<AwsMetadataRequest>> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn require_imdsv2(&self) -> bool {
        *self
            .require_imdsv2
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn next_fault(&self, endpoint: AwsMetadataEndpoint) -> Option<AwsMetadataFault> {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&endpoint)
            .and_then(VecDeque::pop_front)
    }
}

impl Default for FakeAwsMetadataServerBuilder {
    fn default() -> Self {
        Self {
            script: Script {
                zone: FAKE_AWS_ZONE.to_owned(),
                role: FAKE_AWS_ROLE.to_owned(),
                access_key_id: FAKE_AWS_ACCESS_KEY_ID.to_owned(),
                secret_access_key: FAKE_AWS_SECRET_ACCESS_KEY.to_owned(),
                session_token: Some(FAKE_AWS_SESSION_TOKEN.to_owned()),
                imdsv2_token: FAKE_IMDSV2_TOKEN.to_owned(),
            },
            require_imdsv2: false,
        }
    }
}

impl FakeAwsMetadataServerBuilder {
    /// The availability zone. Default [`FAKE_AWS_ZONE`].
    pub fn with_zone(mut self, zone: impl Into<String>) -> Self {
        self.script.zone = zone.into();
        self
    }

    /// The role name. Default [`FAKE_AWS_ROLE`].
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.script.role = role.into();
        self
    }

    /// The role's credentials; a `None` session token leaves `Token` out. Default
    /// [`FAKE_AWS_ACCESS_KEY_ID`], [`FAKE_AWS_SECRET_ACCESS_KEY`], [`FAKE_AWS_SESSION_TOKEN`].
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<&str>,
    ) -> Self {
        self.script.access_key_id = access_key_id.into();
        self.script.secret_access_key = secret_access_key.into();
        self.script.session_token = session_token.map(str::to_owned);
        self
    }

    /// The `IMDSv2` session token handed out. Default [`FAKE_IMDSV2_TOKEN`].
    pub fn with_imdsv2_token(mut self, token: impl Into<String>) -> Self {
        self.script.imdsv2_token = token.into();
        self
    }

    /// Whether every `GET` must carry the session token (`IMDSv2` required), else `401`.
    /// Default no (`IMDSv1` answered too).
    pub fn requiring_imdsv2(mut self, required: bool) -> Self {
        self.require_imdsv2 = required;
        self
    }

    /// Binds a port on 127.0.0.1 and starts serving.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(self) -> io::Result<FakeAwsMetadataServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            script: self.script,
            require_imdsv2: Mutex::new(self.require_imdsv2),
            faults: Mutex::new(HashMap::new()),
            record: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(serve::accept_loop(listener, Arc::clone(&state)));
        Ok(FakeAwsMetadataServer {
            addr,
            state,
            task: Some(task),
        })
    }
}

impl FakeAwsMetadataServer {
    /// A fake with every default, serving.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder of the answers.
    pub fn builder() -> FakeAwsMetadataServerBuilder {
        FakeAwsMetadataServerBuilder::default()
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The availability zone's URL (`region_url`).
    pub fn region_url(&self) -> String {
        format!("{}{ZONE_PATH}", self.url())
    }

    /// The security credentials URL (`url`).
    pub fn security_credentials_url(&self) -> String {
        format!("{}{CREDENTIALS_PATH}", self.url())
    }

    /// The session token URL (`imdsv2_session_token_url`).
    pub fn imdsv2_session_token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.url())
    }

    /// A `credential_source` of an `external_account` file naming the fake's three URLs, with
    /// `environment_id` `aws1` and AWS's default regional verification URL.
    pub fn credential_source(&self) -> serde_json::Value {
        serde_json::json!({
            "environment_id": "aws1",
            "region_url": self.region_url(),
            "url": self.security_credentials_url(),
            "regional_cred_verification_url":
                "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
            "imdsv2_session_token_url": self.imdsv2_session_token_url(),
        })
    }

    /// The region of the fake's zone: the zone without its last character.
    pub fn region(&self) -> String {
        let zone = &self.state.script.zone;
        let mut chars = zone.chars();
        chars.next_back();
        chars.as_str().to_owned()
    }

    /// The role name.
    pub fn role(&self) -> &str {
        &self.state.script.role
    }

    /// The `IMDSv2` session token handed out.
    pub fn imdsv2_token(&self) -> &str {
        &self.state.script.imdsv2_token
    }

    /// Whether every `GET` must carry the session token from now on.
    pub fn set_require_imdsv2(&self, required: bool) {
        *self
            .state
            .require_imdsv2
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = required;
    }

    /// The next request to `endpoint` (after those already scripted) gets `fault`.
    pub fn push_fault(&self, endpoint: AwsMetadataEndpoint, fault: AwsMetadataFault) -> &Self {
        self.state
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(endpoint)
            .or_default()
            .push_back(fault);
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<AwsMetadataRequest> {
        self.state.record().clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.state.record().len()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.record().clear();
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for FakeAwsMetadataServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for FakeAwsMetadataServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAwsMetadataServer")
            .field("addr", &self.addr)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for FakeAwsMetadataServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAwsMetadataServerBuilder")
            .field("zone", &self.script.zone)
            .field("role", &self.script.role)
            .field("require_imdsv2", &self.require_imdsv2)
            .finish_non_exhaustive()
    }
}

/// One request as the fake received it: method, path, query and headers.
#[derive(Clone)]
pub struct AwsMetadataRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
}

impl AwsMetadataRequest {
    /// The method, such as `PUT`.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The path, such as `/latest/api/token`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query as sent, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every header.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

/// Shows method, path, query and header names: the session token header is a secret.
impl fmt::Debug for AwsMetadataRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("AwsMetadataRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &names)
            .finish()
    }
}
