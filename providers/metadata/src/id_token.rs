//! `MetadataIdTokenSource`: ID tokens of an instance's service account.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, BuildError, Clock, Result, RetryPolicy, TokenSource, Transport};

use crate::credentials::{
    DEFAULT_SERVICE_ACCOUNT, ServerChoice, check_account, metadata_retry_policy,
};
use crate::server::query;
use crate::{MetadataServer, error, reply};

/// A [`TokenSource`] of Google-signed ID tokens (OpenID Connect JWTs) for an audience, from the
/// metadata server's identity endpoint: the reference library's
/// `compute_engine.IDTokenCredentials` with `use_metadata_identity_endpoint=True`.
///
/// # Examples
///
/// ```no_run
/// use credkit_core::Credentials;
/// use credkit_metadata::MetadataIdTokenSource;
/// use credkit_reqwest::ReqwestTransport;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let source = MetadataIdTokenSource::builder("https://my-service.a.run.app")
///     .with_transport(ReqwestTransport::new()?)
///     .build()?;
/// // Cached like any token: `authorization: Bearer <ID token>` on every request.
/// let credentials = Credentials::new(source);
/// let headers = credentials.headers().await?;
/// # let _ = headers;
/// # Ok(())
/// # }
/// ```
///
/// Each fetch is `GET .../instance/service-accounts/ACCOUNT/identity?audience=AUDIENCE&format=full`
/// (with `&licenses=TRUE` when asked). The token's secret is the whole JWT, and its expiry the
/// JWT's `exp` claim, read without verifying the signature: the token is for its recipient to
/// verify. Retries and transience are as [`MetadataCredentials`](crate::MetadataCredentials)'s.
///
/// Differences from the reference: it asks for the chosen account's token (the reference always
/// asks for `default`'s), and it never asks for the account's information first.
#[derive(Clone)]
pub struct MetadataIdTokenSource {
    inner: Arc<Config>,
}

struct Config {
    server: MetadataServer,
    account: String,
    audience: String,
    licenses: bool,
    quota_project: Option<String>,
    /// `instance/service-accounts/ACCOUNT/identity?...`.
    path: String,
}

/// Builds a [`MetadataIdTokenSource`]; from [`MetadataIdTokenSource::builder`].
#[must_use]
pub struct MetadataIdTokenSourceBuilder {
    server: ServerChoice,
    account: String,
    audience: String,
    licenses: bool,
    quota_project: Option<String>,
}

impl MetadataIdTokenSourceBuilder {
    /// Uses `server`, a client already built, instead of building one: the transport, clock,
    /// environment and host settings of this builder are then ignored.
    pub fn with_server(mut self, server: MetadataServer) -> Self {
        self.server = ServerChoice::Given(server);
        self
    }

    /// The transport requests go through. Required, unless [`with_server`](Self::with_server)
    /// gives a client.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        let transport: Arc<dyn Transport> = Arc::new(transport);
        self.server = self.server.map(|b| b.with_transport(transport));
        self
    }

    /// The clock that times requests out; the caching layer built over this source reads it
    /// too. Default [`SystemClock`](credkit_core::SystemClock).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.server = self.server.map(|b| b.with_clock(clock));
        self
    }

    /// Reads `GCE_METADATA_HOST` and the other variables through `lookup`. Default: the process
    /// environment.
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.server = self.server.map(|b| b.with_env(lookup));
        self
    }

    /// The `host[:port]` of the metadata server; wins over `GCE_METADATA_HOST`.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        let host = host.into();
        self.server = self.server.map(|b| b.with_host(host));
        self
    }

    /// How long one request may take. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`](crate::DEFAULT_REQUEST_TIMEOUT).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.server = self.server.map(|b| b.with_request_timeout(timeout));
        self
    }

    /// The service account: `default` (the default) or the email of another attached account.
    /// An empty string means `default`.
    pub fn with_service_account(mut self, account: impl Into<String>) -> Self {
        let account = account.into();
        self.account = if account.is_empty() {
            DEFAULT_SERVICE_ACCOUNT.to_owned()
        } else {
            account
        };
        self
    }

    /// Asks for the instance's license codes in the token (`licenses=TRUE`). Default off.
    pub fn with_licenses(mut self, licenses: bool) -> Self {
        self.licenses = licenses;
        self
    }

    /// The quota project, put on every token. Default none; an empty string also means none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        let project = project.into();
        self.quota_project = (!project.is_empty()).then_some(project);
        self
    }

    /// Builds the source. Nothing is sent.
    ///
    /// # Errors
    ///
    /// As [`MetadataServerBuilder::build`](crate::MetadataServerBuilder::build);
    /// [`BuildError::is_invalid_value`] for an empty audience or an account that cannot go
    /// into the path.
    pub fn build(self) -> Result<MetadataIdTokenSource, BuildError> {
        let server = self.server.build()?;
        check_account(&self.account)?;
        if self.audience.is_empty() {
            return Err(BuildError::invalid_value(
                "the ID token audience is empty: name the service the token is for",
            ));
        }
        let mut pairs = vec![("audience", self.audience.as_str()), ("format", "full")];
        if self.licenses {
            pairs.push(("licenses", "TRUE"));
        }
        let encoded = query(&pairs)
            .map_err(|_| BuildError::invalid_value("the audience cannot be encoded"))?;
        let path = format!(
            "instance/service-accounts/{}/identity?{encoded}",
            self.account
        );
        Ok(MetadataIdTokenSource {
            inner: Arc::new(Config {
                server,
                account: self.account,
                audience: self.audience,
                licenses: self.licenses,
                quota_project: self.quota_project,
                path,
            }),
        })
    }
}

impl fmt::Debug for MetadataIdTokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataIdTokenSourceBuilder")
            .field("server", &self.server)
            .field("account", &self.account)
            .field("audience", &self.audience)
            .field("licenses", &self.licenses)
            .field("quota_project", &self.quota_project)
            .finish()
    }
}

impl fmt::Debug for MetadataIdTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("MetadataIdTokenSource")
            .field("server", &inner.server)
            .field("account", &inner.account)
            .field("audience", &inner.audience)
            .field("licenses", &inner.licenses)
            .field("quota_project", &inner.quota_project)
            .finish()
    }
}

impl MetadataIdTokenSource {
    /// A builder for ID tokens whose `aud` is `audience` (the URL of the service they are
    /// for).
    pub fn builder(audience: impl Into<String>) -> MetadataIdTokenSourceBuilder {
        MetadataIdTokenSourceBuilder {
            server: ServerChoice::Build(MetadataServer::builder()),
            account: DEFAULT_SERVICE_ACCOUNT.to_owned(),
            audience: audience.into(),
            licenses: false,
            quota_project: None,
        }
    }

    /// The audience.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The service account: `default` or an email.
    pub fn service_account(&self) -> &str {
        &self.inner.account
    }

    /// The metadata server client.
    pub fn server(&self) -> &MetadataServer {
        &self.inner.server
    }
}

#[async_trait]
impl TokenSource for MetadataIdTokenSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let config = &self.inner;
        let what = format!("instance/service-accounts/{}/identity", config.account);
        let sent_at = config.server.clock().now();
        let response = config.server.fetch(&what, &config.path).await?;
        config.server.ok(&what, &response)?;
        let token = reply::id_token(response.body(), sent_at)
            .map_err(|reason| error::invalid(&what, &reason))?;
        Ok(match &config.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        "metadata server ID token"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(self.inner.server.clock()))
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        Some(metadata_retry_policy())
    }
}
