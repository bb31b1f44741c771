//! `MetadataCredentials`: access tokens of an instance's service account.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, Clock, Result, RetryPolicy, TokenSource, Transport, oauth,
};

use crate::server::query;
use crate::{MetadataServer, MetadataServerBuilder};

/// The account used when none is chosen: the instance's default service account.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// The retry policy the metadata server's token sources report through
/// [`TokenSource::retry_policy`]: 7 attempts, waits of about 200 ms doubling to at most 500 ms
/// (±10 %), so about 2.6 s of waiting in all (never more than 2.9 s).
///
/// The metadata server is on the machine or the node: when it refuses connections it is
/// starting (a new GKE node, a Cloud Run instance's first request), and it is up within
/// seconds. Short waits find it as soon as it is: a server that refuses for its first 2 seconds
/// gives its first token in under 3. The default policy's 1 s and 2 s waits would take 3 s to
/// notice, and give up after 3 attempts.
pub fn metadata_retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(7)
        .with_initial_wait(Duration::from_millis(200))
        .with_multiplier(2.0)
        .with_max_wait(Duration::from_millis(500))
}

/// A [`TokenSource`] of access tokens for one of the instance's service accounts, from the
/// metadata server of Compute Engine, GKE, Cloud Run and App Engine: the reference library's
/// `compute_engine.Credentials`.
///
/// # Examples
///
/// ```no_run
/// use credkit_core::Credentials;
/// use credkit_metadata::MetadataCredentials;
/// use credkit_reqwest::ReqwestTransport;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let source = MetadataCredentials::builder()
///     .with_transport(ReqwestTransport::new()?)
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
///     .with_quota_project("my-project")
///     .build()?;
/// let credentials = Credentials::new(source);
/// let headers = credentials.headers().await?;
/// # let _ = headers;
/// # Ok(())
/// # }
/// ```
///
/// Each fetch is one request, `GET .../instance/service-accounts/ACCOUNT/token`, with
/// `?scopes=A,B` when scopes were chosen (Compute Engine ignores them and issues tokens with
/// the instance's scopes; Cloud Run, GKE and App Engine honour them). The answer's
/// `expires_in` counts from a time read before the request. The quota project, if any, goes on
/// every token.
///
/// It retries nothing itself; it reports [`metadata_retry_policy`] through
/// [`TokenSource::retry_policy`], which [`Credentials`](credkit_core::Credentials) uses unless
/// told otherwise. Refused connections, `5xx`, `429` and timeouts are transient, so a failed
/// refresh is tried again later; other statuses (a `404` for an account the instance does not
/// have) are permanent.
///
/// # Differences from the reference
///
/// - The reference asks for the account's information (`.../ACCOUNT/?recursive=true`) before
///   every token, to learn its email and default scopes, and sends the default scopes back as
///   `?scopes=`; this source sends only the token request, without scopes unless chosen.
/// - The reference always asks for the `default` account's token, whatever account it was
///   given; this source asks for the account chosen.
/// - No metrics header (`x-goog-api-client`).
#[derive(Clone)]
pub struct MetadataCredentials {
    inner: Arc<Config>,
}

struct Config {
    server: MetadataServer,
    account: String,
    scopes: Vec<String>,
    quota_project: Option<String>,
    /// `instance/service-accounts/ACCOUNT/token[?scopes=...]`.
    path: String,
}

/// Builds a [`MetadataCredentials`]; from [`MetadataCredentials::builder`].
#[must_use]
pub struct MetadataCredentialsBuilder {
    server: ServerChoice,
    account: String,
    scopes: Vec<String>,
    quota_project: Option<String>,
}

/// A client given whole, or settings for one.
pub(crate) enum ServerChoice {
    Given(MetadataServer),
    Build(MetadataServerBuilder),
}

impl ServerChoice {
    pub(crate) fn map(
        self,
        f: impl FnOnce(MetadataServerBuilder) -> MetadataServerBuilder,
    ) -> Self {
        match self {
            Self::Build(builder) => Self::Build(f(builder)),
            given @ Self::Given(_) => given,
        }
    }

    pub(crate) fn build(self) -> Result<MetadataServer, BuildError> {
        match self {
            Self::Given(server) => Ok(server),
            Self::Build(builder) => builder.build(),
        }
    }
}

impl fmt::Debug for ServerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given(server) => server.fmt(f),
            Self::Build(builder) => builder.fmt(f),
        }
    }
}

impl MetadataCredentialsBuilder {
    /// Uses `server`, a client already built (shared with a probe, say), instead of building
    /// one: the transport, clock, environment and host settings of this builder are then
    /// ignored.
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

    /// The clock that dates tokens and times requests out; the caching layer built over this
    /// source reads it too. Default [`SystemClock`](credkit_core::SystemClock).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.server = self.server.map(|b| b.with_clock(clock));
        self
    }

    /// Reads `GCE_METADATA_HOST` and the other variables through `lookup` (see
    /// [`MetadataServerBuilder`]). Default: the process environment.
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

    /// How long one token request may take. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`](crate::DEFAULT_REQUEST_TIMEOUT).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.server = self.server.map(|b| b.with_request_timeout(timeout));
        self
    }

    /// The service account: `default` (the default) or the email of another account attached
    /// to the instance. An empty string means `default`.
    pub fn with_service_account(mut self, account: impl Into<String>) -> Self {
        let account = account.into();
        self.account = if account.is_empty() {
            DEFAULT_SERVICE_ACCOUNT.to_owned()
        } else {
            account
        };
        self
    }

    /// The scopes to ask for, sent as `?scopes=A,B`. Default none: the server's default
    /// scopes for the account.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The quota project, put on every token for the caching layer to send as
    /// `x-goog-user-project`. Default none; an empty string also means none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        let project = project.into();
        self.quota_project = (!project.is_empty()).then_some(project);
        self
    }

    /// Builds the source. Nothing is sent.
    ///
    /// # Errors
    ///
    /// As [`MetadataServerBuilder::build`]; [`BuildError::is_invalid_value`] for an account
    /// or scope that cannot go into the request (a `/`, `?`, `#`, `,` or whitespace in the
    /// account, a `,` or an empty scope).
    pub fn build(self) -> Result<MetadataCredentials, BuildError> {
        let server = self.server.build()?;
        check_account(&self.account)?;
        if self
            .scopes
            .iter()
            .any(|scope| scope.is_empty() || scope.contains(','))
        {
            return Err(BuildError::invalid_value(
                "a metadata server scope is empty or contains a comma",
            ));
        }
        let mut path = format!("instance/service-accounts/{}/token", self.account);
        if !self.scopes.is_empty() {
            let scopes = self.scopes.join(",");
            let encoded = query(&[("scopes", &scopes)])
                .map_err(|_| BuildError::invalid_value("the scopes cannot be encoded"))?;
            path.push('?');
            path.push_str(&encoded);
        }
        Ok(MetadataCredentials {
            inner: Arc::new(Config {
                server,
                account: self.account,
                scopes: self.scopes,
                quota_project: self.quota_project,
                path,
            }),
        })
    }
}

/// A service account name fit for a path segment.
pub(crate) fn check_account(account: &str) -> Result<(), BuildError> {
    // Never empty: the builder turns an empty account into `default`.
    let bad = account == "."
        || account == ".."
        || account.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | ',' | '%' | '\\')
        });
    if bad {
        return Err(BuildError::invalid_value(format!(
            "the service account `{}` is not `default` or an email address",
            account.escape_debug()
        )));
    }
    Ok(())
}

impl fmt::Debug for MetadataCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataCredentialsBuilder")
            .field("server", &self.server)
            .field("account", &self.account)
            .field("scopes", &self.scopes)
            .field("quota_project", &self.quota_project)
            .finish()
    }
}

impl fmt::Debug for MetadataCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataCredentials")
            .field("server", &self.inner.server)
            .field("account", &self.inner.account)
            .field("scopes", &self.inner.scopes)
            .field("quota_project", &self.inner.quota_project)
            .finish()
    }
}

impl MetadataCredentials {
    /// A builder: the transport (required), scopes, service account, quota project, clock,
    /// environment and host.
    pub fn builder() -> MetadataCredentialsBuilder {
        MetadataCredentialsBuilder {
            server: ServerChoice::Build(MetadataServer::builder()),
            account: DEFAULT_SERVICE_ACCOUNT.to_owned(),
            scopes: Vec::new(),
            quota_project: None,
        }
    }

    /// The metadata server client.
    pub fn server(&self) -> &MetadataServer {
        &self.inner.server
    }

    /// The service account: `default` or an email.
    pub fn service_account(&self) -> &str {
        &self.inner.account
    }

    /// The scopes asked for; empty for the server's default ones.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The quota project put on every token, if any.
    pub fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project.as_deref()
    }
}

#[async_trait]
impl TokenSource for MetadataCredentials {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let config = &self.inner;
        let what = format!("instance/service-accounts/{}/token", config.account);
        // Lifetimes count from before the request.
        let sent_at = config.server.clock().now();
        let response = config.server.fetch(&what, &config.path).await?;
        config.server.ok(&what, &response)?;
        let token = oauth::read_token_response(&response, sent_at, &[])?;
        Ok(match &config.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        "metadata server"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(self.inner.server.clock()))
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        Some(metadata_retry_policy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit_testing::MockTransport;

    #[test]
    fn debug_shows_the_settings() {
        let builder = MetadataCredentials::builder()
            .with_env(|_| None)
            .with_host("127.0.0.1:1")
            .with_transport(MockTransport::new())
            .with_scopes(["scope-a"])
            .with_service_account("sa@example.com")
            .with_quota_project("billing");
        let shown = format!("{builder:?}");
        for part in [
            "MetadataServerBuilder",
            "127.0.0.1:1",
            "scope-a",
            "sa@example.com",
            "billing",
        ] {
            assert!(shown.contains(part), "{shown}");
        }
        let source = builder.build().unwrap();
        let shown = format!("{source:?}");
        for part in [
            "MetadataCredentials",
            "MetadataServer",
            "127.0.0.1:1",
            "scope-a",
            "sa@example.com",
            "billing",
        ] {
            assert!(shown.contains(part), "{shown}");
        }
        let given = MetadataCredentials::builder().with_server(source.server().clone());
        assert!(
            format!("{given:?}").contains("MetadataServer {"),
            "{given:?}"
        );
    }

    #[test]
    fn accounts_that_cannot_go_into_a_path() {
        for bad in [
            ".", "..", "a/b", "a?b", "a#b", "a,b", "a%2F", "a\\b", "a b", "a\u{7f}",
        ] {
            assert!(check_account(bad).is_err(), "{bad}");
        }
        for good in ["default", "sa@p.iam.gserviceaccount.com", "a.b"] {
            assert!(check_account(good).is_ok(), "{good}");
        }
    }
}
