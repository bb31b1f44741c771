//! `FakeMetadataServer`: a metadata server (Compute Engine, GKE, Cloud Run) on 127.0.0.1.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_core::{Clock, SystemClock};

use crate::IdTokenMinter;
use http::{HeaderMap, Method};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod serve;

/// The access token handed out for requests without scopes, unless scripted otherwise.
pub const FAKE_METADATA_TOKEN: &str = "fake-metadata-access-token";

/// The default service account's email.
pub const FAKE_METADATA_EMAIL: &str = "fake-sa@fake-project.iam.gserviceaccount.com";

/// The project ID.
pub const FAKE_METADATA_PROJECT: &str = "fake-project";

/// A metadata server on 127.0.0.1: scripted access tokens (per scopes), JWT-shaped identity
/// tokens (per audience, with an `exp`), the default service account's email and information,
/// the project ID, the universe domain (or a `404`), the `Metadata-Flavor: Google` header both
/// ways, and faults: connections refused for a while, `503`s, slow or never-answering replies,
/// replies without `Metadata-Flavor`. It keeps a record of every request.
///
/// # Examples
///
/// ```
/// use credkit_testing::FakeMetadataServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let fake = FakeMetadataServer::builder()
///     .with_access_token(&["scope-a"], "token-for-a")
///     .with_universe_domain(None) // answers 404
///     .start()
///     .await?;
/// // Point GCE_METADATA_HOST and GCE_METADATA_IP at it:
/// let host = fake.host(); // "127.0.0.1:PORT"
/// assert!(host.starts_with("127.0.0.1:"));
/// assert_eq!(fake.access_token(&["scope-a"]), "token-for-a");
/// assert_eq!(fake.access_token(&[]), "fake-metadata-access-token");
/// fake.fail_next(2, 503); // the next two requests get 503
/// # Ok(())
/// # }
/// ```
///
/// What it serves, under `/computeMetadata/v1/` (every such request must carry
/// `Metadata-Flavor: Google`, else `403`, as the real server):
///
/// | path | answer |
/// |---|---|
/// | `/` (the probe) | `200`, `computeMetadata/` |
/// | `instance/service-accounts/ACCOUNT/token[?scopes=A,B]` | `{"access_token","expires_in","token_type"}` |
/// | `instance/service-accounts/ACCOUNT/identity?audience=AUD[&format=full][&licenses=TRUE]` | a JWT with `aud`, `iat`, `exp` (on the fake's clock), `email` |
/// | `instance/service-accounts/ACCOUNT/?recursive=true` | `{"aliases","email","scopes"}` |
/// | `instance/service-accounts/ACCOUNT/email` | the email |
/// | `project/project-id` | the project ID |
/// | `universe/universe-domain` | the universe domain, or `404` |
///
/// `ACCOUNT` is `default` or the email; another is `404`, as any other path. Every answer
/// carries `Metadata-Flavor: Google` unless [`set_flavor_header`](Self::set_flavor_header)
/// turned it off.
///
/// Faults, in the order they apply: connections refused (the port is not listening:
/// [`refuse_connections`](Self::refuse_connections),
/// [`FakeMetadataServerBuilder::refusing_for`]); no answer ever
/// ([`set_hang`](Self::set_hang)); a delay before answering ([`set_delay`](Self::set_delay));
/// an error status for the next requests ([`fail_next`](Self::fail_next)).
pub struct FakeMetadataServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

/// Builds a [`FakeMetadataServer`]; from [`FakeMetadataServer::builder`].
#[must_use]
pub struct FakeMetadataServerBuilder {
    script: Script,
    clock: Arc<dyn Clock>,
    start: Start,
}

/// How the fake starts.
#[derive(Debug, Clone, Copy)]
enum Start {
    Serving,
    Refusing,
    RefusingFor(Duration),
}

/// What the fake answers; fixed at start.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    pub(crate) tokens: HashMap<String, String>,
    pub(crate) expires_in: u64,
    pub(crate) email: String,
    pub(crate) project_id: String,
    pub(crate) universe_domain: Option<String>,
    pub(crate) instance_scopes: Vec<String>,
    pub(crate) id_token_lifetime: Duration,
    pub(crate) minter: Option<IdTokenMinter>,
}

/// The fake's state, shared with its connections.
pub(crate) struct State {
    pub(crate) script: Script,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) record: Mutex<Vec<MetadataRequest>>,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) hang: bool,
    pub(crate) delay: Duration,
    pub(crate) failures: usize,
    pub(crate) failure_status: u16,
    pub(crate) no_flavor: bool,
}

impl State {
    pub(crate) fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(&self) -> std::sync::MutexGuard<'_, Vec<MetadataRequest>> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The key of a scope list in the token script: the scopes joined by commas, as the request
/// sends them.
fn scopes_key(scopes: &[&str]) -> String {
    scopes.join(",")
}

impl Default for FakeMetadataServerBuilder {
    fn default() -> Self {
        Self {
            script: Script {
                tokens: HashMap::new(),
                expires_in: 3599,
                email: FAKE_METADATA_EMAIL.to_owned(),
                project_id: FAKE_METADATA_PROJECT.to_owned(),
                universe_domain: Some("googleapis.com".to_owned()),
                instance_scopes: Vec::new(),
                id_token_lifetime: Duration::from_secs(3600),
                minter: None,
            },
            clock: Arc::new(SystemClock),
            start: Start::Serving,
        }
    }
}

impl FakeMetadataServerBuilder {
    /// The access token for requests with exactly `scopes` (none: `&[]`). Default
    /// [`FAKE_METADATA_TOKEN`] without scopes, and `fake-metadata-access-token+A,B` for scopes
    /// `A,B`.
    pub fn with_access_token(mut self, scopes: &[&str], token: impl Into<String>) -> Self {
        self.script.tokens.insert(scopes_key(scopes), token.into());
        self
    }

    /// The `expires_in` of access tokens, in seconds. Default 3599, as the real server.
    pub fn with_expires_in(mut self, seconds: u64) -> Self {
        self.script.expires_in = seconds;
        self
    }

    /// The default service account's email. Default [`FAKE_METADATA_EMAIL`].
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.script.email = email.into();
        self
    }

    /// The project ID. Default [`FAKE_METADATA_PROJECT`].
    pub fn with_project_id(mut self, project: impl Into<String>) -> Self {
        self.script.project_id = project.into();
        self
    }

    /// The universe domain; `None` answers `404`, as servers without the endpoint do. Default
    /// `googleapis.com`.
    pub fn with_universe_domain(mut self, domain: Option<&str>) -> Self {
        self.script.universe_domain = domain.map(str::to_owned);
        self
    }

    /// The scopes the service account information lists. Default none.
    pub fn with_instance_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.script.instance_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The lifetime of identity tokens (`exp - iat`). Default one hour.
    pub fn with_id_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.script.id_token_lifetime = lifetime;
        self
    }

    /// Signs identity tokens with `minter` (a test issuer whose keys a verifier can fetch)
    /// instead of a fake signature. The claims are the same.
    pub fn with_id_token_minter(
        mut self,
        minter: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static,
    ) -> Self {
        self.script.minter = Some(IdTokenMinter::new(minter));
        self
    }

    /// The clock identity tokens are dated by. Default the system clock.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Starts without listening (connections are refused) until
    /// [`FakeMetadataServer::accept_connections`].
    pub fn refusing(mut self) -> Self {
        self.start = Start::Refusing;
        self
    }

    /// Starts without listening, and listens after `duration` of real time: a metadata server
    /// that is starting, as GKE's does.
    pub fn refusing_for(mut self, duration: Duration) -> Self {
        self.start = Start::RefusingFor(duration);
        self
    }

    /// Binds a port on 127.0.0.1 and starts serving (or refusing, as set).
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(self) -> io::Result<FakeMetadataServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            script: self.script,
            clock: self.clock,
            faults: Mutex::new(Faults::default()),
            record: Mutex::new(Vec::new()),
        });
        let task = match self.start {
            Start::Serving => Some(tokio::spawn(serve::accept_loop(
                listener,
                Arc::clone(&state),
            ))),
            Start::Refusing => None,
            Start::RefusingFor(duration) => {
                drop(listener);
                let state = Arc::clone(&state);
                Some(tokio::spawn(async move {
                    tokio::time::sleep(duration).await;
                    // The port was ours a moment ago; if it cannot be bound again, the fake
                    // keeps refusing, which the test will notice.
                    if let Ok(listener) = TcpListener::bind(addr).await {
                        serve::accept_loop(listener, state).await;
                    }
                }))
            }
        };
        Ok(FakeMetadataServer {
            addr,
            state,
            task: tokio::sync::Mutex::new(task),
        })
    }
}

impl FakeMetadataServer {
    /// A fake with every default, serving.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder for the script and the faults at start.
    pub fn builder() -> FakeMetadataServerBuilder {
        FakeMetadataServerBuilder::default()
    }

    /// `127.0.0.1:PORT`: the value for `GCE_METADATA_HOST` and `GCE_METADATA_IP`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment a client should see: `GCE_METADATA_HOST` and `GCE_METADATA_IP` set to
    /// [`host`](Self::host), nothing else. A lookup for the builders' `with_env`.
    pub fn env(&self) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let host = self.host();
        move |name| matches!(name, "GCE_METADATA_HOST" | "GCE_METADATA_IP").then(|| host.clone())
    }

    /// The access token the fake hands out for `scopes`.
    pub fn access_token(&self, scopes: &[&str]) -> String {
        self.state.script.access_token(&scopes_key(scopes))
    }

    /// The default service account's email.
    pub fn email(&self) -> &str {
        &self.state.script.email
    }

    /// The project ID.
    pub fn project_id(&self) -> &str {
        &self.state.script.project_id
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<MetadataRequest> {
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

    /// Answers the next `count` requests with `status` (and a short text body).
    pub fn fail_next(&self, count: usize, status: u16) {
        let mut faults = self.state.faults();
        faults.failures = count;
        faults.failure_status = status;
    }

    /// Never answers requests (they are recorded) while `hang` is set.
    pub fn set_hang(&self, hang: bool) {
        self.state.faults().hang = hang;
    }

    /// Waits `delay` of real time before each answer. Default none.
    pub fn set_delay(&self, delay: Duration) {
        self.state.faults().delay = delay;
    }

    /// Whether answers carry `Metadata-Flavor: Google`. Default yes.
    pub fn set_flavor_header(&self, flavored: bool) {
        self.state.faults().no_flavor = !flavored;
    }

    /// Stops listening: connections are refused (and open ones closed) until
    /// [`accept_connections`](Self::accept_connections).
    pub async fn refuse_connections(&self) {
        let mut task = self.task.lock().await;
        if let Some(task) = task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again, on the same port.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound again.
    pub async fn accept_connections(&self) -> io::Result<()> {
        let mut task = self.task.lock().await;
        if let Some(old) = task.take() {
            old.abort();
            let _ = old.await;
        }
        let listener = TcpListener::bind(self.addr).await?;
        *task = Some(tokio::spawn(serve::accept_loop(
            listener,
            Arc::clone(&self.state),
        )));
        Ok(())
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(self) {
        self.refuse_connections().await;
    }

    /// A JWT-shaped identity token (header, claims, fake signature; not verifiable) with
    /// `claims` as its payload, such as the fake hands out.
    ///
    /// ```
    /// let token = credkit_testing::FakeMetadataServer::fake_id_token(
    ///     &serde_json::json!({"aud": "https://a.example", "exp": 1767229200}),
    /// );
    /// assert_eq!(token.split('.').count(), 3);
    /// ```
    pub fn fake_id_token(claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "RS256", "kid": "fake-key", "typ": "JWT"});
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode("fake-signature"),
        )
    }
}

impl Script {
    pub(crate) fn access_token(&self, key: &str) -> String {
        self.tokens.get(key).cloned().unwrap_or_else(|| {
            if key.is_empty() {
                FAKE_METADATA_TOKEN.to_owned()
            } else {
                format!("{FAKE_METADATA_TOKEN}+{key}")
            }
        })
    }
}

impl Drop for FakeMetadataServer {
    fn drop(&mut self) {
        if let Ok(mut task) = self.task.try_lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }
}

impl fmt::Debug for FakeMetadataServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeMetadataServer")
            .field("addr", &self.addr)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for FakeMetadataServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeMetadataServerBuilder")
            .field("email", &self.script.email)
            .field("project_id", &self.script.project_id)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

/// One request as the fake metadata server received it: method, path, query and headers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let fake = credkit_testing::FakeMetadataServer::start().await?;
/// assert!(fake.requests().is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MetadataRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
}

impl MetadataRequest {
    /// The method, such as `GET`.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The path, such as `/computeMetadata/v1/project/project-id`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query as sent, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The query's pairs, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default()
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

/// Shows method, path, query and header names: a metadata request carries no secret, but a
/// test may add one to a header.
impl fmt::Debug for MetadataRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("MetadataRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &names)
            .finish()
    }
}
