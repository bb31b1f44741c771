//! `ReqwestTransportBuilder`: the limits, and the two clients it builds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use credkit_core::BuildError;
use reqwest::{Client, redirect};

use crate::error;
use crate::policy::{METADATA_HOSTS, PlainHttpHost};
use crate::resolve::DirectResolver;
use crate::transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_TIMEOUT, ReqwestTransport,
};

/// The `User-Agent` sent when a request does not set one.
const USER_AGENT: &str = concat!("credkit-reqwest/", env!("CARGO_PKG_VERSION"));

/// Builds a [`ReqwestTransport`]; from [`ReqwestTransport::builder`]. Its `Debug` shows the
/// limits, and only whether a client was given.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_reqwest::ReqwestTransport;
///
/// let transport = ReqwestTransport::builder().with_timeout(Duration::from_secs(5)).build()?;
/// assert_eq!(transport.timeout(), Duration::from_secs(5));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[must_use]
pub struct ReqwestTransportBuilder {
    client: Option<Client>,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_size: usize,
    plain_http_hosts: Vec<String>,
}

impl Default for ReqwestTransportBuilder {
    fn default() -> Self {
        Self {
            client: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            plain_http_hosts: Vec::new(),
        }
    }
}

impl fmt::Debug for ReqwestTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransportBuilder")
            .field("own_client", &self.client.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_size", &self.max_body_size)
            .field("plain_http_hosts", &self.plain_http_hosts)
            .finish()
    }
}

impl ReqwestTransportBuilder {
    /// How long establishing a connection (TCP and TLS) may take. Default
    /// [`DEFAULT_CONNECT_TIMEOUT`] (10 s). Ignored with [`with_client`](Self::with_client):
    /// set it on that client.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one whole exchange may take, from connecting to the last byte of the body.
    /// Default [`DEFAULT_TIMEOUT`] (30 s). Applies with [`with_client`](Self::with_client) too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted, in bytes. Default [`DEFAULT_MAX_BODY_SIZE`]
    /// (1 MiB). Applies with [`with_client`](Self::with_client) too.
    pub fn with_max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Also allows plain `http` to `host` (a name or an IP address, with an optional `:port`;
    /// without one, any port), as to loopback and the metadata server: for a metadata server
    /// somewhere else, such as the one the `GCE_METADATA_HOST` environment variable names.
    /// Default: none besides loopback, `169.254.169.254` and `metadata.google.internal` (see
    /// [`check_endpoint`](crate::check_endpoint)). May be called more than once.
    ///
    /// Requests to these hosts never go through a proxy, and a name among them is resolved
    /// by the system's resolver. Allow only a host you trust with what you send it in the
    /// clear, on a network you trust.
    ///
    /// ```
    /// use credkit_reqwest::ReqwestTransport;
    ///
    /// let transport = ReqwestTransport::builder()
    ///     .allow_plain_http_host("metadata.internal.example:8080")
    ///     .build()?;
    /// assert_eq!(transport.plain_http_hosts().count(), 1);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn allow_plain_http_host(mut self, host: impl Into<String>) -> Self {
        self.plain_http_hosts.push(host.into());
        self
    }

    /// Uses `client` instead of building one. Default: a client built by this builder.
    ///
    /// The URL policy, the total timeout, the body cap and the error mapping still apply; the
    /// rest is the client's configuration, so build it as this crate would:
    ///
    /// - **no redirects** (`redirect(reqwest::redirect::Policy::none())`): reqwest follows up to
    ///   10 by default, replaying the request elsewhere. If a redirect was followed anyway, the
    ///   response is refused with a configuration error, but the request has been sent by then;
    /// - **no proxy for loopback hosts and the metadata server** (`no_proxy()`, or a `NO_PROXY`
    ///   covering them): reqwest reads proxies from the environment and does not exempt
    ///   loopback, so a plain-http request to `127.0.0.1` or `169.254.169.254` could travel to
    ///   the proxy. The client is used for those hosts as it is, and `localhost` is resolved by
    ///   its own resolver;
    /// - **no decompression** features, a connect timeout, and rustls or another TLS stack you
    ///   trust. With this crate's `ring` feature alone, reqwest has no crypto provider of its
    ///   own: install one for the process before building the client
    ///   (`rustls::crypto::ring::default_provider().install_default()`), or reqwest panics.
    ///
    /// See [the crate docs](crate#bring-your-own-client) for an example with a proxy, a
    /// corporate CA and a client certificate.
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Builds the transport.
    ///
    /// # Errors
    ///
    /// [`BuildError::is_invalid_value`] when a timeout or the body cap is zero, when a host
    /// given to [`allow_plain_http_host`](Self::allow_plain_http_host) is not a host or
    /// `host:port`, or when reqwest cannot build its client (the TLS backend or the resolver
    /// configuration cannot be loaded).
    pub fn build(self) -> Result<ReqwestTransport, BuildError> {
        if self.timeout.is_zero() {
            return Err(error::zero_limit("total timeout"));
        }
        if self.max_body_size == 0 {
            return Err(error::zero_limit("body size limit"));
        }
        let plain_http_hosts = self
            .plain_http_hosts
            .iter()
            .map(|value| {
                PlainHttpHost::parse(value).ok_or_else(|| error::invalid_plain_http_host(value))
            })
            .collect::<Result<Arc<[_]>, _>>()?;
        if let Some(client) = self.client {
            return Ok(ReqwestTransport {
                timeout: self.timeout,
                max_body_size: self.max_body_size,
                plain_http_hosts,
                ..ReqwestTransport::from_client(client)
            });
        }
        if self.connect_timeout.is_zero() {
            return Err(error::zero_limit("connect timeout"));
        }
        let client = base_client(self.connect_timeout)?
            .build()
            .map_err(error::client_build)?;
        // The names the direct client may resolve: the metadata server's, and the allowed ones.
        let names: Arc<[String]> = METADATA_HOSTS
            .iter()
            .map(|&host| host.to_owned())
            .chain(plain_http_hosts.iter().map(|h| h.host().to_owned()))
            .collect();
        let direct = base_client(self.connect_timeout)?
            .no_proxy()
            .dns_resolver(DirectResolver::new(names))
            .build()
            .map_err(error::client_build)?;
        Ok(ReqwestTransport {
            client,
            loopback: Some(direct),
            connect_timeout: Some(self.connect_timeout),
            timeout: self.timeout,
            max_body_size: self.max_body_size,
            plain_http_hosts,
        })
    }
}

fn base_client(connect_timeout: Duration) -> Result<reqwest::ClientBuilder, BuildError> {
    crate::tls::configure(
        Client::builder()
            .redirect(redirect::Policy::none())
            .retry(reqwest::retry::never())
            .connect_timeout(connect_timeout)
            .user_agent(USER_AGENT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_rejects_zero_limits() {
        let zero = Duration::ZERO;
        for builder in [
            ReqwestTransport::builder().with_timeout(zero),
            ReqwestTransport::builder().with_connect_timeout(zero),
            ReqwestTransport::builder().with_max_body_size(0),
        ] {
            assert!(builder.build().unwrap_err().is_invalid_value());
        }
    }

    #[test]
    fn builder_keeps_settings_with_a_client_of_ones_own() {
        let transport = ReqwestTransport::builder()
            .with_client(crate::tls::caller_client().build().unwrap())
            .with_timeout(Duration::from_millis(1500))
            .with_max_body_size(10)
            .allow_plain_http_host("mds.example:8080")
            .build()
            .unwrap();
        assert_eq!(
            transport.plain_http_hosts().collect::<Vec<_>>(),
            ["mds.example:8080"]
        );
        assert_eq!(transport.timeout(), Duration::from_millis(1500));
        assert_eq!(transport.max_body_size(), 10);
        assert_eq!(transport.connect_timeout(), None);
        assert!(transport.loopback.is_none());
    }

    #[test]
    fn builder_rejects_a_plain_http_host_that_is_not_a_host() {
        for bad in [
            "",
            "http://mds.example",
            "mds.example/path",
            "u@mds.example",
        ] {
            let err = ReqwestTransport::builder()
                .allow_plain_http_host(bad)
                .build()
                .unwrap_err();
            assert!(err.is_invalid_value(), "{bad}");
        }
        let err = ReqwestTransport::builder()
            .with_client(crate::tls::caller_client().build().unwrap())
            .allow_plain_http_host("a/b")
            .build()
            .unwrap_err();
        assert!(err.is_invalid_value());
    }
}
