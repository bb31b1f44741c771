//! `ImpersonatedIdTokenSource`: ID tokens of a target service account through the IAM
//! Credentials API's `generateIdToken` (the reference's `impersonated_credentials.IDTokenCredentials`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{AccessToken, BuildError, Clock, Result, TokenSource};
use secrecy::SecretString;
use serde::Deserialize;

use crate::call::Iam;
use crate::error::{self, ID_TOKEN_ERROR};

/// ID tokens for an audience, issued to the target service account of
/// [`ImpersonatedCredentials`](crate::ImpersonatedCredentials): a [`TokenSource`] whose tokens
/// are the JWTs themselves, expiring at their `exp`.
///
/// Each fetch `POST`s `{"audience": …, "delegates": […] or null, "includeEmail": …}` to
/// `…/serviceAccounts/{target}:generateIdToken` with the source's credentials, and reads
/// `token`. Wrap it in a core [`Credentials`](credkit_core::Credentials) to cache the ID token
/// (single flight, refresh ahead, storage, the tower layer) like any access token.
///
/// # Examples
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_impersonated::ImpersonatedCredentials;
/// use credkit_reqwest::ReqwestTransport;
/// use credkit_testing::FakeIamServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let iam = FakeIamServer::start().await?;
/// let source = Credentials::new(StaticSource::new(AccessToken::new("ya29.user")));
/// let target = ImpersonatedCredentials::builder(source, "robot@p.iam.gserviceaccount.com")
///     .with_iam_base_url(iam.url())
///     .with_transport(ReqwestTransport::new()?)
///     .build()?;
/// let ids = target
///     .id_token_source_builder("https://service.run.app")
///     .with_include_email(true)
///     .build()?;
/// let token = Credentials::new(ids).access_token().await?;
/// assert!(token.expiry().is_some());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// From [`fetch_token`](TokenSource::fetch_token): the source's and the transport's errors; an
/// IAM error reply as `Error getting ID token: <status>: <message>` (typed and scrubbed as
/// [`ImpersonatedCredentials`](crate::ImpersonatedCredentials)' are); "Error getting ID token:
/// No ID token in response." for a 200 without `token`; a token that is not a JWT with an `exp`.
#[derive(Clone)]
pub struct ImpersonatedIdTokenSource {
    inner: Arc<Config>,
}

struct Config {
    iam: Iam,
    audience: String,
    include_email: bool,
    quota_project: Option<String>,
}

/// Builds an [`ImpersonatedIdTokenSource`]; from
/// [`ImpersonatedCredentials::id_token_source_builder`](crate::ImpersonatedCredentials::id_token_source_builder).
#[must_use]
pub struct ImpersonatedIdTokenSourceBuilder {
    iam: Iam,
    audience: String,
    include_email: bool,
    quota_project: Option<String>,
}

impl ImpersonatedIdTokenSourceBuilder {
    pub(crate) fn new(iam: Iam, audience: String) -> Self {
        Self {
            iam,
            audience,
            include_email: false,
            quota_project: None,
        }
    }

    /// Whether the token carries the account's `email` and `email_verified` claims (IAM's
    /// `includeEmail`). Default `false`, as the reference.
    pub fn with_include_email(mut self, include: bool) -> Self {
        self.include_email = include;
        self
    }

    /// The quota project reported by [`TokenSource::quota_project`]. Default: none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// Builds the source.
    ///
    /// # Errors
    ///
    /// An empty audience.
    pub fn build(self) -> std::result::Result<ImpersonatedIdTokenSource, BuildError> {
        if self.audience.is_empty() {
            return Err(BuildError::missing_field("audience"));
        }
        Ok(ImpersonatedIdTokenSource {
            inner: Arc::new(Config {
                iam: self.iam,
                audience: self.audience,
                include_email: self.include_email,
                quota_project: self.quota_project,
            }),
        })
    }
}

impl ImpersonatedIdTokenSource {
    /// The audience the tokens are for.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Whether the tokens carry the account's email.
    pub fn include_email(&self) -> bool {
        self.inner.include_email
    }

    /// The service account the tokens are issued to.
    pub fn target_principal(&self) -> &str {
        &self.inner.iam.principal
    }
}

#[async_trait]
impl TokenSource for ImpersonatedIdTokenSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        #[derive(Deserialize)]
        struct Wire {
            token: Option<SecretString>,
        }
        let config = &self.inner;
        let body = serde_json::json!({
            "audience": config.audience,
            "delegates": config.iam.delegates_json(),
            "includeEmail": config.include_email,
        });
        let (response, _) = config
            .iam
            .post(&config.iam.url("generateIdToken"), &body, ID_TOKEN_ERROR)
            .await?;
        let token = serde_json::from_slice::<Wire>(response.body())
            .ok()
            .and_then(|wire| wire.token)
            .ok_or_else(|| error::invalid(ID_TOKEN_ERROR, "No ID token in response."))?;
        AccessToken::from_id_token(token)
    }

    fn name(&self) -> &'static str {
        "impersonated service account ID token"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.inner.iam.clock))
    }

    fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project.as_deref()
    }
}

impl fmt::Debug for ImpersonatedIdTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpersonatedIdTokenSource")
            .field("iam", &self.inner.iam)
            .field("audience", &self.inner.audience)
            .field("include_email", &self.inner.include_email)
            .field("quota_project", &self.inner.quota_project)
            .finish()
    }
}

impl fmt::Debug for ImpersonatedIdTokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpersonatedIdTokenSourceBuilder")
            .field("iam", &self.iam)
            .field("audience", &self.audience)
            .field("include_email", &self.include_email)
            .field("quota_project", &self.quota_project)
            .finish()
    }
}
