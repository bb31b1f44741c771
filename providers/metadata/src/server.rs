//! `MetadataServer`: the client of the metadata server, and its builder.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use credkit_core::{BuildError, Clock, Error, Result, SystemClock, Transport, oauth};
use futures::future::{self, Either};
use http::uri::Authority;

use crate::env::{
    self, DEFAULT_HOST, DEFAULT_PROBE_HOST, DEFAULT_PROBE_TIMEOUT, EnvLookup, MetadataEnv,
};
use crate::reply::{self, ServiceAccountInfo};
use crate::{Probe, error, probe};

/// The request header every metadata request carries, and the answer's header the probe checks.
pub(crate) const FLAVOR_HEADER: &str = "metadata-flavor";

/// The value of [`FLAVOR_HEADER`] both ways.
pub(crate) const FLAVOR_VALUE: &str = "Google";

/// The root of every data path.
const ROOT: &str = "/computeMetadata/v1/";

/// The universe domain when the metadata server has none: `googleapis.com`.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// How long one data request (a token, a value) may take by default, on the clock: 10 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the probe keeps retrying refused connections and 5xx answers by default: 3 seconds.
pub const DEFAULT_PROBE_RETRY_WINDOW: Duration = Duration::from_secs(3);

/// A client of the metadata server of Compute Engine, GKE, Cloud Run and App Engine: the probe
/// that tells whether one is there, and typed reads of what it serves.
///
/// # Examples
///
/// ```
/// use credkit_metadata::MetadataServer;
/// use credkit_testing::MockTransport;
///
/// let server = MetadataServer::builder()
///     .with_env(|name| (name == "GCE_METADATA_HOST").then(|| "127.0.0.1:8080".to_owned()))
///     .with_transport(MockTransport::new())
///     .build()?;
/// assert_eq!(server.host(), "127.0.0.1:8080");
/// assert_eq!(server.probe_host(), "169.254.169.254");
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
///
/// Every request is `GET http://HOST/computeMetadata/v1/PATH` with `Metadata-Flavor: Google`,
/// sent through the [`Transport`] it was built with. The host comes from the environment as the
/// reference library reads it (see [`MetadataServerBuilder`]). A transport that enforces
/// `https` must allow plain `http` to it: `credkit-reqwest` allows `169.254.169.254` and
/// `metadata.google.internal`, loopback, and what
/// `ReqwestTransportBuilder::allow_plain_http_host` names (give it [`host`](Self::host) when
/// `GCE_METADATA_HOST` is set).
///
/// Requests are not retried here: the probe retries within its window, and token sources leave
/// retries to the caching layer. Each data request ends after
/// [`with_request_timeout`](MetadataServerBuilder::with_request_timeout) on the clock, with a
/// transient [`Timeout`](credkit_core::ErrorKind::Timeout) error; dropping a request's future
/// cancels it and leaves the client as it was.
///
/// It is a cheap handle: clone it rather than wrapping it in an `Arc`.
#[derive(Clone)]
pub struct MetadataServer {
    inner: Arc<Inner>,
}

struct Inner {
    host: String,
    probe_host: String,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    request_timeout: Duration,
    probe_timeout: Duration,
    probe_retry_window: Duration,
    probe_disabled: bool,
}

/// Builds a [`MetadataServer`]; from [`MetadataServer::builder`].
///
/// The environment is read once, at [`build`](Self::build): the process environment unless
/// [`with_env`](Self::with_env) gives a lookup. An empty variable counts as unset.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `GCE_METADATA_HOST` (else the older `GCE_METADATA_ROOT`) | `host[:port]` of data requests | `metadata.google.internal` |
/// | `GCE_METADATA_IP` | `host[:port]` the probe asks | `169.254.169.254` |
/// | `GCE_METADATA_TIMEOUT` | the probe's timeout, whole seconds | 3 |
/// | `NO_GCE_CHECK` | `true` (any case): the probe answers [`Probe::Disabled`] at once | unset |
///
/// An explicit setting ([`with_host`](Self::with_host), [`with_probe_host`](Self::with_probe_host),
/// [`with_probe_timeout`](Self::with_probe_timeout)) wins over its variable.
#[must_use]
pub struct MetadataServerBuilder {
    env: EnvLookup,
    host: Option<String>,
    probe_host: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    request_timeout: Duration,
    probe_timeout: Option<Duration>,
    probe_retry_window: Duration,
}

impl Default for MetadataServerBuilder {
    fn default() -> Self {
        Self {
            env: env::process(),
            host: None,
            probe_host: None,
            transport: None,
            clock: Arc::new(SystemClock),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            probe_timeout: None,
            probe_retry_window: DEFAULT_PROBE_RETRY_WINDOW,
        }
    }
}

impl MetadataServerBuilder {
    /// Reads environment variables through `lookup` instead of the process environment, so
    /// tests never change the real one.
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// The `host[:port]` of data requests. Default: `GCE_METADATA_HOST`, else
    /// `GCE_METADATA_ROOT`, else [`DEFAULT_HOST`](crate::DEFAULT_HOST).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The `host[:port]` the probe asks. Default: `GCE_METADATA_IP`, else
    /// [`DEFAULT_PROBE_HOST`](crate::DEFAULT_PROBE_HOST) (an address: no DNS lookup, which can
    /// take long off Google Cloud).
    pub fn with_probe_host(mut self, host: impl Into<String>) -> Self {
        self.probe_host = Some(host.into());
        self
    }

    /// The transport requests go through. Required.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock that times requests out, paces the probe and dates tokens. Default
    /// [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How long one data request may take, on the clock. Default [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long one probe request may take, on the clock; a probe request that hangs ends the
    /// probe with [`Probe::TimedOut`] at this time. Default: `GCE_METADATA_TIMEOUT`, else
    /// [`DEFAULT_PROBE_TIMEOUT`](crate::DEFAULT_PROBE_TIMEOUT) (3 s, as the reference).
    pub fn with_probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = Some(timeout);
        self
    }

    /// How long the probe keeps retrying refused connections and 5xx answers (a metadata server
    /// still starting, as GKE's does), with short waits; zero means one attempt. Default
    /// [`DEFAULT_PROBE_RETRY_WINDOW`].
    pub fn with_probe_retry_window(mut self, window: Duration) -> Self {
        self.probe_retry_window = window;
        self
    }

    /// Builds the client, reading the environment. Nothing is sent.
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: [`is_missing_field`](BuildError::is_missing_field) without a
    /// transport; [`is_invalid_value`](BuildError::is_invalid_value) for a host that is not
    /// `host[:port]` (from a setting or the environment) or a zero timeout.
    pub fn build(self) -> Result<MetadataServer, BuildError> {
        let transport = self
            .transport
            .ok_or_else(|| BuildError::missing_field("transport"))?;
        let env = MetadataEnv::read(&self.env);
        let host = checked_host(
            self.host.or(env.host),
            DEFAULT_HOST,
            "the metadata host (GCE_METADATA_HOST)",
        )?;
        let probe_host = checked_host(
            self.probe_host.or(env.probe_host),
            DEFAULT_PROBE_HOST,
            "the metadata probe host (GCE_METADATA_IP)",
        )?;
        let probe_timeout = self
            .probe_timeout
            .or(env.probe_timeout)
            .unwrap_or(DEFAULT_PROBE_TIMEOUT);
        if self.request_timeout.is_zero() || probe_timeout.is_zero() {
            return Err(BuildError::invalid_value(
                "the metadata server's request and probe timeouts must be greater than zero",
            ));
        }
        Ok(MetadataServer {
            inner: Arc::new(Inner {
                host,
                probe_host,
                transport,
                clock: self.clock,
                request_timeout: self.request_timeout,
                probe_timeout,
                probe_retry_window: self.probe_retry_window,
                probe_disabled: env.no_check,
            }),
        })
    }
}

/// `value` (or `default`) if it is a `host[:port]` and nothing more.
fn checked_host(value: Option<String>, default: &str, what: &str) -> Result<String, BuildError> {
    let Some(value) = value else {
        return Ok(default.to_owned());
    };
    let value = value.trim().to_owned();
    // The host and, if any, `:port` must be the whole value: a user name (`u@x`), a port that
    // is not a number (`x:port`, which the parser accepts without a port) or a path would leave
    // something else.
    let ok = Authority::from_str(&value).is_ok_and(|authority| {
        let host = authority.host();
        let port_len = authority.port().map_or(0, |port| 1 + port.as_str().len());
        !host.is_empty() && value.starts_with(host) && value.len() == host.len() + port_len
    });
    if ok {
        Ok(value)
    } else {
        Err(BuildError::invalid_value(format!(
            "{what} `{value}` is not a host or host:port (no scheme, user name or path)"
        )))
    }
}

impl fmt::Debug for MetadataServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataServerBuilder")
            .field("host", &self.host)
            .field("probe_host", &self.probe_host)
            .field("transport", &self.transport)
            .field("clock", &self.clock)
            .field("request_timeout", &self.request_timeout)
            .field("probe_timeout", &self.probe_timeout)
            .field("probe_retry_window", &self.probe_retry_window)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MetadataServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("MetadataServer")
            .field("host", &inner.host)
            .field("probe_host", &inner.probe_host)
            .field("transport", &inner.transport)
            .field("clock", &inner.clock)
            .field("request_timeout", &inner.request_timeout)
            .field("probe_timeout", &inner.probe_timeout)
            .field("probe_retry_window", &inner.probe_retry_window)
            .field("probe_disabled", &inner.probe_disabled)
            .finish()
    }
}

impl MetadataServer {
    /// A builder: the transport (required), the clock, the environment, hosts and timeouts.
    pub fn builder() -> MetadataServerBuilder {
        MetadataServerBuilder::default()
    }

    /// A client over `transport`, configured by the process environment.
    ///
    /// ```
    /// # use credkit_testing::MockTransport;
    /// let server = credkit_metadata::MetadataServer::from_env(MockTransport::new())?;
    /// # let _ = server;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`MetadataServerBuilder::build`].
    pub fn from_env(transport: impl Transport + 'static) -> Result<Self, BuildError> {
        Self::builder().with_transport(transport).build()
    }

    /// The `host[:port]` of data requests.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// The `host[:port]` the probe asks.
    pub fn probe_host(&self) -> &str {
        &self.inner.probe_host
    }

    /// How long one data request may take.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// How long one probe request may take.
    pub fn probe_timeout(&self) -> Duration {
        self.inner.probe_timeout
    }

    /// How long the probe retries refusals and 5xx answers.
    pub fn probe_retry_window(&self) -> Duration {
        self.inner.probe_retry_window
    }

    /// Whether `NO_GCE_CHECK` turned the probe off.
    pub fn probe_disabled(&self) -> bool {
        self.inner.probe_disabled
    }

    /// The clock this client reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Whether a metadata server answers: [`probe`](Self::probe)`().is_available()`.
    pub async fn is_available(&self) -> bool {
        self.probe().await.is_available()
    }

    /// Asks whether a metadata server is there, as the reference's `ping`: `GET http://PROBE_HOST/`
    /// with `Metadata-Flavor: Google`; available when the answer is `200` with
    /// `Metadata-Flavor: Google`. See [`Probe`] for every outcome and how long each takes.
    pub async fn probe(&self) -> Probe {
        probe::run(self).await
    }

    /// The text of any metadata `path` under `/computeMetadata/v1/` (a leading `/` is
    /// ignored; a query may follow `?`), such as `instance/zone` or `project/project-id`.
    ///
    /// Prefer the typed methods: a token path read this way hands back a secret as a plain
    /// string.
    ///
    /// # Errors
    ///
    /// A [`Configuration`](credkit_core::ErrorKind::Configuration) error for a path that
    /// cannot go into a URL; the transport's errors; a transient
    /// [`Timeout`](credkit_core::ErrorKind::Timeout) after the request timeout; for an error
    /// status, a [`Provider`](credkit_core::ErrorKind::Provider) error with the status,
    /// transient for 5xx, 408 and 429; [`InvalidResponse`](credkit_core::ErrorKind::InvalidResponse)
    /// for a value that is not one line of text.
    pub async fn get(&self, path: &str) -> Result<String> {
        let path = path.trim_start_matches('/');
        let what = path.split('?').next().unwrap_or(path);
        let response = self.fetch(what, path).await?;
        self.value_of(what, &response)
    }

    /// The email address of `account` (`default`, or an email) on this instance.
    ///
    /// # Errors
    ///
    /// As [`service_account`](Self::service_account).
    pub async fn email(&self, account: &str) -> Result<String> {
        Ok(self.service_account(account).await?.email().to_owned())
    }

    /// What the server says about `account` (`default`, or an email): its email, default
    /// scopes and aliases, from `instance/service-accounts/ACCOUNT/?recursive=true`, the
    /// request the reference library makes.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get); [`InvalidResponse`](credkit_core::ErrorKind::InvalidResponse)
    /// when the answer is not a JSON object with an `email`.
    pub async fn service_account(&self, account: &str) -> Result<ServiceAccountInfo> {
        let what = format!("instance/service-accounts/{account}/");
        let response = self.fetch(&what, &format!("{what}?recursive=true")).await?;
        self.ok(&what, &response)?;
        reply::service_account(response.body()).map_err(|reason| error::invalid(&what, &reason))
    }

    /// The project ID of the instance (`project/project-id`).
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub async fn project_id(&self) -> Result<String> {
        self.get("project/project-id").await
    }

    /// The universe domain (`universe/universe-domain`); [`DEFAULT_UNIVERSE_DOMAIN`] when the
    /// server has none (answers `404`, or an empty value), as the reference.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), except for `404`.
    pub async fn universe_domain(&self) -> Result<String> {
        let what = "universe/universe-domain";
        let response = self.fetch(what, what).await?;
        if response.status() == http::StatusCode::NOT_FOUND {
            return Ok(DEFAULT_UNIVERSE_DOMAIN.to_owned());
        }
        let value = self.value_of(what, &response)?;
        Ok(if value.is_empty() {
            DEFAULT_UNIVERSE_DOMAIN.to_owned()
        } else {
            value
        })
    }

    fn value_of(&self, what: &str, response: &http::Response<Bytes>) -> Result<String> {
        self.ok(what, response)?;
        reply::text(response.body()).map_err(|reason| error::invalid(what, &reason))
    }

    /// `Ok` for a `200`, else the error its status stands for.
    pub(crate) fn ok(&self, what: &str, response: &http::Response<Bytes>) -> Result<()> {
        if response.status() == http::StatusCode::OK {
            Ok(())
        } else {
            Err(error::status(what, response, self.inner.clock.now()))
        }
    }

    /// `GET /computeMetadata/v1/{path_and_query}` under the request timeout; `what` names it in
    /// errors (never the query).
    pub(crate) async fn fetch(
        &self,
        what: &str,
        path_and_query: &str,
    ) -> Result<http::Response<Bytes>> {
        let uri = format!("http://{}{ROOT}{path_and_query}", self.inner.host);
        let request = request(&uri).map_err(|_| error::invalid_request(what))?;
        self.send(request, self.inner.request_timeout)
            .await
            .unwrap_or_else(|| Err(error::timed_out(what, self.inner.request_timeout)))
    }

    /// Sends `request`, racing it against `timeout` on the clock: `None` when the clock won.
    pub(crate) async fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> Option<Result<http::Response<Bytes>>> {
        let exchange = self.inner.transport.send(request);
        // A deadline guarding the exchange (`Clock::timeout`), not a wait of its own: a test
        // clock that moves by itself through sleeps leaves it to the test.
        let deadline = self.inner.clock.timeout(timeout);
        match future::select(exchange, deadline).await {
            Either::Left((answer, _)) => Some(answer),
            Either::Right(((), _)) => None,
        }
    }
}

/// A `GET` of `uri` with `Metadata-Flavor: Google`.
pub(crate) fn request(uri: &str) -> std::result::Result<http::Request<Bytes>, http::Error> {
    http::Request::get(uri)
        .header(FLAVOR_HEADER, FLAVOR_VALUE)
        .body(Bytes::new())
}

/// `pairs` as a query string, encoded as the reference's `urlencode`.
pub(crate) fn query(pairs: &[(&str, &str)]) -> Result<String> {
    let body = oauth::form_body(pairs);
    std::str::from_utf8(&body)
        .map(str::to_owned)
        .map_err(|_| Error::internal("a form-encoded query is not ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit_testing::MockTransport;

    fn builder() -> MetadataServerBuilder {
        MetadataServer::builder()
            .with_env(|_| None)
            .with_transport(MockTransport::new())
    }

    #[test]
    fn explicit_settings_win_and_are_kept() {
        let server = MetadataServer::builder()
            .with_env(|name| match name {
                "GCE_METADATA_HOST" => Some("env-host:1".to_owned()),
                "GCE_METADATA_IP" => Some("env-ip:2".to_owned()),
                "GCE_METADATA_TIMEOUT" => Some("9".to_owned()),
                _ => None,
            })
            .with_transport(MockTransport::new())
            .with_host("mds.example:8080")
            .with_probe_host("10.0.0.9:81")
            .with_probe_timeout(Duration::from_millis(1500))
            .with_request_timeout(Duration::from_secs(4))
            .with_probe_retry_window(Duration::from_secs(5))
            .build()
            .unwrap();
        assert_eq!(server.host(), "mds.example:8080");
        assert_eq!(server.probe_host(), "10.0.0.9:81");
        assert_eq!(server.probe_timeout(), Duration::from_millis(1500));
        assert_eq!(server.request_timeout(), Duration::from_secs(4));
        assert_eq!(server.probe_retry_window(), Duration::from_secs(5));
        assert!(!server.probe_disabled());
        let shown = format!("{server:?}");
        for part in [
            "MetadataServer",
            "mds.example:8080",
            "10.0.0.9:81",
            "1.5s",
            "4s",
            "5s",
        ] {
            assert!(shown.contains(part), "{shown}");
        }
    }

    #[test]
    fn defaults() {
        let server = builder().build().unwrap();
        assert_eq!(server.host(), DEFAULT_HOST);
        assert_eq!(server.probe_host(), DEFAULT_PROBE_HOST);
        assert_eq!(server.probe_timeout(), DEFAULT_PROBE_TIMEOUT);
        assert_eq!(server.request_timeout(), DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(server.probe_retry_window(), DEFAULT_PROBE_RETRY_WINDOW);
    }

    #[test]
    fn zero_timeouts_are_refused_each_alone() {
        let err = builder()
            .with_request_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(err.is_invalid_value());
        let err = builder()
            .with_probe_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(err.is_invalid_value());
    }

    #[test]
    fn hosts_are_host_and_port_only() {
        for good in ["h", "h:1", "10.0.0.1:8080", "[::1]:80", " h:2 "] {
            assert!(builder().with_host(good).build().is_ok(), "{good:?}");
        }
        for bad in [
            "", " ", "a b", "u@h", "u:p@h", "u:p@h:80", "h/p", "h?q", "h#f", "h:port", "h:99999",
            "http://h",
        ] {
            let err = builder().with_host(bad).build().unwrap_err();
            assert!(err.is_invalid_value(), "{bad:?}");
            let err = builder().with_probe_host(bad).build().unwrap_err();
            assert!(err.is_invalid_value(), "{bad:?}");
        }
    }

    #[test]
    fn queries_are_encoded_as_the_reference() {
        assert_eq!(
            query(&[("audience", "https://a.example/x y"), ("format", "full")]).unwrap(),
            "audience=https%3A%2F%2Fa.example%2Fx+y&format=full"
        );
    }
}
