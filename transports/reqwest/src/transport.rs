//! `ReqwestTransport`: the URL policy, the two clients, the timeouts and the body cap at work.
//! Its builder is in `builder.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{BuildError, Result, Transport};
use reqwest::{Client, Url};

use crate::ReqwestTransportBuilder;
use crate::body::read_capped;
use crate::error;
use crate::policy::{PlainHttpHost, check_endpoint_allowing, is_direct_url, origin_for_message};

/// How long establishing a connection (TCP and TLS) may take by default: 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a whole exchange (connect, send, and read the full response) may take by default:
/// 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body accepted by default: 1 MiB. Token responses are a few KiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;

/// A [`Transport`] on reqwest with rustls: safe defaults for talking to token endpoints.
///
/// **For token endpoints only**: a response body over 1 MiB is refused, a redirect is returned
/// unfollowed, plain `http` is refused off loopback, and every body is buffered whole. Send
/// your API calls with your own client instead, and put the credentials on them with
/// `credkit-reqwest-middleware`, `credkit-tower`, or
/// [`Credentials::headers`](credkit_core::Credentials::headers) (see
/// [the crate docs](crate#credentials-on-your-api-calls)).
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use credkit_core::Transport;
/// use credkit_reqwest::ReqwestTransport;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let transport: Arc<dyn Transport> = Arc::new(ReqwestTransport::new()?);
/// let request = http::Request::post("https://oauth2.googleapis.com/token")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(bytes::Bytes::from_static(b"grant_type=refresh_token&..."))?;
/// let response = transport.send(request).await?;
/// println!("HTTP {}", response.status());
/// # Ok(())
/// # }
/// ```
///
/// What it does for every request:
///
/// - **Checks the URL first.** [`check_endpoint`](crate::check_endpoint) runs before anything
///   is resolved or connected: `https://` is required except for loopback hosts, the metadata
///   server (exactly `169.254.169.254` and `metadata.google.internal`) and the hosts named with
///   [`allow_plain_http_host`](crate::ReqwestTransportBuilder::allow_plain_http_host).
/// - **Never follows redirects.** A 3xx is returned as a response, so a refresh token is never
///   replayed to wherever a `Location` header points.
/// - **Bounds time.** A connect timeout, and a total timeout over the whole exchange, body
///   included: a server that drips a byte at a time cannot hold a refresh forever.
/// - **Bounds memory.** A body declared (`Content-Length`) or found (while reading) to be over
///   the cap fails with a permanent error; no more than the cap is ever buffered. Nothing is
///   decompressed.
/// - **Keeps loopback on the machine.** Proxies from the environment (`HTTPS_PROXY`,
///   `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`) apply to other hosts, but requests to loopback, to
///   the metadata server and to the other hosts allowed plain http always go direct, so a
///   plain-http request carrying a refresh token (or a metadata server's token) never reaches
///   a proxy; and `localhost` is taken to mean `127.0.0.1` and `::1` without asking DNS.
/// - **Wipes its buffer.** The body is read into a buffer that is zeroed whenever it grows; the
///   final bytes are handed to the caller without a copy.
/// - **Maps failures** onto [`Error::transport`](credkit_core::Error::transport): connect
///   failures, timeouts and connections closed mid-exchange are transient; an oversize body and
///   a refused URL are permanent.
///   Messages name the endpoint's scheme, host and port only, never its path, query or user
///   info.
///
/// It is a cheap handle around one pooled client: clone it, or share it as
/// `Arc<dyn Transport>`; there is no need to build one per refresh. It needs a tokio runtime
/// (with the time driver) to send.
#[derive(Clone)]
pub struct ReqwestTransport {
    pub(crate) client: Client,
    /// A client without proxies that resolves `localhost` itself, for loopback hosts, the
    /// metadata server and the other hosts allowed plain http; `None` when the caller brought
    /// their own client, which is then used for everything.
    pub(crate) loopback: Option<Client>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) max_body_size: usize,
    /// The hosts besides loopback and the metadata server that plain http may reach.
    pub(crate) plain_http_hosts: Arc<[PlainHttpHost]>,
}

impl ReqwestTransport {
    /// A transport with the defaults: connect timeout [`DEFAULT_CONNECT_TIMEOUT`], total timeout
    /// [`DEFAULT_TIMEOUT`], body cap [`DEFAULT_MAX_BODY_SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// let transport = credkit_reqwest::ReqwestTransport::new()?;
    /// assert_eq!(transport.max_body_size(), credkit_reqwest::DEFAULT_MAX_BODY_SIZE);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When reqwest cannot build its client: the TLS backend or the system's resolver
    /// configuration cannot be loaded.
    pub fn new() -> Result<Self, BuildError> {
        Self::builder().build()
    }

    /// A builder to set the timeouts, the body cap or a client of one's own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use credkit_reqwest::ReqwestTransport;
    ///
    /// let transport = ReqwestTransport::builder()
    ///     .with_connect_timeout(Duration::from_secs(3))
    ///     .with_timeout(Duration::from_secs(10))
    ///     .with_max_body_size(64 * 1024)
    ///     .build()?;
    /// assert_eq!(transport.timeout(), Duration::from_secs(10));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn builder() -> ReqwestTransportBuilder {
        ReqwestTransportBuilder::default()
    }

    /// A transport on a [`reqwest::Client`] of one's own, with the default total timeout and
    /// body cap. Same as `ReqwestTransport::builder().with_client(client).build()`, which cannot
    /// fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use credkit_reqwest::ReqwestTransport;
    ///
    /// # // With `ring` alone, reqwest needs a process default provider to build a client.
    /// # #[cfg(feature = "ring")]
    /// # let _ = rustls::crypto::ring::default_provider().install_default();
    /// let client = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .no_proxy()
    ///     .build()?;
    /// let transport = ReqwestTransport::from_client(client);
    /// assert_eq!(transport.connect_timeout(), None); // the client's own setting applies
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    ///
    /// See [`ReqwestTransportBuilder::with_client`] for what the client must be configured
    /// to do.
    pub fn from_client(client: Client) -> Self {
        Self {
            client,
            loopback: None,
            connect_timeout: None,
            timeout: DEFAULT_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            plain_http_hosts: Arc::new([]),
        }
    }

    /// The client used for non-loopback hosts (and for every host, when it was brought with
    /// [`from_client`](Self::from_client)).
    ///
    /// ```
    /// let transport = credkit_reqwest::ReqwestTransport::new()?;
    /// let _client: &reqwest::Client = transport.client();
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connect timeout, or `None` when the client was brought by the caller (its own
    /// setting applies).
    ///
    /// ```
    /// let transport = credkit_reqwest::ReqwestTransport::new()?;
    /// assert_eq!(transport.connect_timeout(), Some(credkit_reqwest::DEFAULT_CONNECT_TIMEOUT));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// The total timeout of one exchange.
    ///
    /// ```
    /// let transport = credkit_reqwest::ReqwestTransport::new()?;
    /// assert_eq!(transport.timeout(), credkit_reqwest::DEFAULT_TIMEOUT);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The largest response body accepted, in bytes.
    ///
    /// ```
    /// let transport = credkit_reqwest::ReqwestTransport::new()?;
    /// assert_eq!(transport.max_body_size(), 1024 * 1024);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn max_body_size(&self) -> usize {
        self.max_body_size
    }

    /// The hosts, besides loopback and the metadata server, that this transport sends plain
    /// `http` to (see
    /// [`allow_plain_http_host`](crate::ReqwestTransportBuilder::allow_plain_http_host)), as
    /// `host` or `host:port`.
    ///
    /// ```
    /// let transport = credkit_reqwest::ReqwestTransport::new()?;
    /// assert_eq!(transport.plain_http_hosts().count(), 0);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn plain_http_hosts(&self) -> impl Iterator<Item = String> + '_ {
        self.plain_http_hosts.iter().map(ToString::to_string)
    }

    fn client_for(&self, url: &Url) -> &Client {
        match &self.loopback {
            Some(direct) if is_direct_url(url, &self.plain_http_hosts) => direct,
            _ => &self.client,
        }
    }

    async fn exchange(
        &self,
        request: http::Request<Bytes>,
        url: Url,
        origin: &str,
    ) -> Result<http::Response<Bytes>> {
        let (parts, body) = request.into_parts();
        let mut outgoing = reqwest::Request::new(parts.method, url.clone());
        *outgoing.headers_mut() = parts.headers;
        *outgoing.body_mut() = Some(body.into());

        let mut response = self
            .client_for(&url)
            .execute(outgoing)
            .await
            .map_err(|err| error::from_reqwest(err, origin))?;
        if response.url() != &url {
            // Only a caller's client can do this; ours never follows redirects.
            return Err(error::redirect_followed(origin));
        }
        let body = read_capped(&mut response, self.max_body_size, origin).await?;
        let mut out = http::Response::new(body);
        *out.status_mut() = response.status();
        *out.version_mut() = response.version();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}

/// Shows the limits, not the client's configuration: reqwest's `Debug` lists its proxies and
/// default headers, which a caller's client may fill with things that do not belong in logs.
impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field("own_client", &self.loopback.is_none())
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_size", &self.max_body_size)
            .field("plain_http_hosts", &self.plain_http_hosts)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    /// Checks the URL, then sends the request and reads the whole response under the timeouts
    /// and the body cap.
    ///
    /// # Errors
    ///
    /// - [`Configuration`](credkit_core::ErrorKind::Configuration), permanent: the URL is
    ///   refused by [`check_endpoint`](crate::check_endpoint) (with the hosts this transport
    ///   allows plain http to; nothing was sent), or a caller's client followed a redirect.
    /// - [`Configuration`](credkit_core::ErrorKind::Configuration), permanent: called outside a
    ///   tokio runtime (reqwest needs one); nothing was sent.
    /// - [`Timeout`](credkit_core::ErrorKind::Timeout), transient: the connect or total timeout
    ///   passed.
    /// - [`Transport`](credkit_core::ErrorKind::Transport), transient: the connection could not
    ///   be made, or was closed or reset before the response was complete.
    /// - [`Transport`](credkit_core::ErrorKind::Transport), permanent: the body is over the cap,
    ///   or another failure.
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        // reqwest and its timers need a tokio runtime: outside one, a typed error, not a panic.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(error::no_runtime());
        }
        let url = check_endpoint_allowing(&request.uri().to_string(), &self.plain_http_hosts)?;
        let origin = origin_for_message(&url);
        match tokio::time::timeout(self.timeout, self.exchange(request, url, &origin)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(error::timed_out(&origin, self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_own_client_has_the_default_connect_timeout() {
        let transport = ReqwestTransport::new().unwrap();
        assert_eq!(transport.connect_timeout(), Some(DEFAULT_CONNECT_TIMEOUT));
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn transport_is_send_sync_and_a_dyn_transport() {
        assert_send_sync::<ReqwestTransport>();
        let transport = ReqwestTransport::new().unwrap();
        let _: &dyn Transport = &transport;
    }

    #[test]
    fn debug_shows_limits_not_the_clients_configuration() {
        let client = crate::tls::caller_client()
            .proxy(reqwest::Proxy::all("http://alice:hunter2@proxy.invalid:3128").unwrap())
            .build()
            .unwrap();
        let builder = ReqwestTransport::builder().with_client(client.clone());
        let transport = ReqwestTransport::from_client(client);
        for shown in [format!("{transport:?}"), format!("{builder:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("proxy.invalid"), "{shown}");
            assert!(shown.contains("max_body_size"), "{shown}");
        }
    }

    #[test]
    fn loopback_requests_use_a_client_without_proxies() {
        let transport = ReqwestTransport::new().unwrap();
        let loopback = Url::parse("http://127.0.0.1:8080/token").unwrap();
        let remote = Url::parse("https://oauth2.googleapis.com/token").unwrap();
        let for_loopback = format!("{:?}", transport.client_for(&loopback));
        let for_remote = format!("{:?}", transport.client_for(&remote));
        // reqwest's Debug lists a client's proxy matchers; the main client always has the
        // environment's (possibly empty) one, the loopback client has none.
        assert!(for_remote.contains("proxies"), "{for_remote}");
        assert!(!for_loopback.contains("proxies"), "{for_loopback}");
    }

    #[test]
    fn metadata_and_allowed_hosts_use_the_client_without_proxies() {
        let transport = ReqwestTransport::builder()
            .allow_plain_http_host("mds.example:8080")
            .build()
            .unwrap();
        let direct = format!("{:?}", transport.loopback.as_ref().unwrap());
        for url in [
            "http://169.254.169.254/computeMetadata/v1/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL/",
            "http://mds.example:8080/computeMetadata/v1/",
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(format!("{:?}", transport.client_for(&url)), direct, "{url}");
        }
        for url in [
            "http://169.254.169.253/",
            "http://metadata.google.internal.evil.example/",
            "http://mds.example:8081/",
            "https://oauth2.googleapis.com/token",
        ] {
            let url = Url::parse(url).unwrap();
            assert_ne!(format!("{:?}", transport.client_for(&url)), direct, "{url}");
        }
    }
}
