//! `ImpersonatedCredentials`: access tokens of a target service account, through the IAM
//! Credentials API's `generateAccessToken` (or `signJwt` and the JWT-bearer grant, for
//! domain-wide delegation), authorized by any source credentials.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{
    AccessToken, BuildError, Clock, Credentials, Result, SystemClock, TokenSource, Transport, oauth,
};
use secrecy::SecretString;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::call::Iam;
use crate::endpoint::{self, CLOUD_PLATFORM_SCOPE, DEFAULT_UNIVERSE_DOMAIN, GOOGLE_TOKEN_URI};
use crate::error::{self, REFRESH_ERROR};
use crate::id_token::ImpersonatedIdTokenSourceBuilder;
use crate::signer::IamSigner;

/// The lifetime asked for when none (or zero) is given: one hour, the IAM API's usual maximum.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The grant type of the JWT-bearer grant (RFC 7523) that domain-wide delegation ends with.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Access tokens of a target service account, obtained by impersonating it with a source's
/// credentials: a [`TokenSource`].
///
/// The source (a user, a service account, the metadata server, an external account, or other
/// impersonated credentials, for a chain) needs the *Service Account Token Creator* role on
/// the target (or on the first delegate, each delegate on the next, the last on the target).
/// Each fetch `POST`s to the IAM Credentials API's
/// `https://iamcredentials.{universe}/v1/projects/-/serviceAccounts/{target}:generateAccessToken`
/// the body `{"delegates": [...] or null, "scope": [...], "lifetime": "3600s"}` with the
/// source's `authorization` (and its `x-goog-user-project`, when it has a quota project),
/// exactly as the reference library does, and reads `accessToken` and `expireTime`.
///
/// The source is a core [`Credentials`], so its token is cached and shared by every IAM call
/// (access tokens, ID tokens, signatures) and refreshed once when it runs out; a 401 from IAM
/// drops it and replays the call once (core's
/// [`AuthorizedTransport`](credkit_core::AuthorizedTransport)).
///
/// This fetches and nothing more: wrap it in [`Credentials`] for caching, single flight,
/// refresh ahead and retries. A cheap handle: clone it rather than wrapping it in an `Arc`.
/// Its `Debug` shows the target and settings, never a token.
///
/// # Examples
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource, TokenSource};
/// use credkit_impersonated::ImpersonatedCredentials;
/// use credkit_testing::FakeIamServer;
/// use credkit_reqwest::ReqwestTransport;
/// use secrecy::ExposeSecret;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let iam = FakeIamServer::start().await?;
/// let source = Credentials::new(StaticSource::new(AccessToken::new("ya29.user")));
/// let target = ImpersonatedCredentials::builder(source, "robot@p.iam.gserviceaccount.com")
///     .with_scopes(["https://www.googleapis.com/auth/devstorage.read_only"])
///     .with_iam_base_url(iam.url())
///     .with_transport(ReqwestTransport::new()?)
///     .build()?;
/// let token = target.fetch_token().await?;
/// assert_eq!(
///     token.secret().expose_secret(),
///     iam.access_token_for("robot@p.iam.gserviceaccount.com")
/// );
/// assert_eq!(iam.requests()[0].header("authorization"), Some("Bearer ya29.user"));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// From [`fetch_token`](TokenSource::fetch_token): the source's errors (it could not get a
/// token to call IAM with); the transport's; an IAM error reply as a `TokenEndpoint` error
/// `Unable to acquire impersonated credentials: <status>: <message>` with the HTTP status and
/// Google's `status` as [`oauth_error`](credkit_core::Error::oauth_error) (transient for 500,
/// 503, 504, 408, 429; `Retry-After` kept), any text of IAM's scrubbed of the source's token;
/// "Unable to acquire impersonated credentials: No access token or invalid expiration in
/// response." for a 200 without them. A hung IAM is the transport's timeout (or the caching
/// layer's flight deadline); dropping the future cancels the call and leaves the source usable.
#[derive(Clone)]
pub struct ImpersonatedCredentials {
    inner: Arc<Config>,
}

pub(crate) struct Config {
    pub(crate) iam: Iam,
    pub(crate) scopes: Vec<String>,
    pub(crate) lifetime: Duration,
    pub(crate) quota_project: Option<String>,
    pub(crate) access_token_url: String,
    pub(crate) iam_endpoint_override: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) token_url: String,
}

/// Builds [`ImpersonatedCredentials`]; from [`ImpersonatedCredentials::builder`].
#[must_use]
pub struct ImpersonatedCredentialsBuilder {
    source: Credentials,
    principal: String,
    delegates: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    lifetime: Duration,
    quota_project: Option<String>,
    universe_domain: String,
    iam_endpoint_override: Option<String>,
    base_url: Option<String>,
    subject: Option<String>,
    token_url: String,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
}

impl ImpersonatedCredentials {
    /// A builder for impersonating `target_principal` (a service account's email) with the
    /// `source` credentials.
    ///
    /// `source` is a caching [`Credentials`]: its token is reused by every IAM call and
    /// refreshed once when needed. Pass the credentials you already hold (clones share their
    /// cache); for a bare [`TokenSource`], see [`builder_from_source`](Self::builder_from_source).
    ///
    /// ```
    /// use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_impersonated::ImpersonatedCredentials;
    ///
    /// let source = Credentials::new(StaticSource::new(AccessToken::new("ya29.user")));
    /// let builder = ImpersonatedCredentials::builder(source, "robot@p.iam.gserviceaccount.com");
    /// assert!(builder.build().is_err()); // no transport yet
    /// ```
    pub fn builder(
        source: Credentials,
        target_principal: impl Into<String>,
    ) -> ImpersonatedCredentialsBuilder {
        ImpersonatedCredentialsBuilder {
            source,
            principal: target_principal.into(),
            delegates: None,
            scopes: None,
            lifetime: DEFAULT_LIFETIME,
            quota_project: None,
            universe_domain: DEFAULT_UNIVERSE_DOMAIN.to_owned(),
            iam_endpoint_override: None,
            base_url: None,
            subject: None,
            token_url: GOOGLE_TOKEN_URI.to_owned(),
            transport: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A builder whose source is `source` wrapped in a default [`Credentials`] (caching, single
    /// flight, the default retries).
    ///
    /// ```
    /// use credkit_core::{AccessToken, StaticSource};
    /// use credkit_impersonated::ImpersonatedCredentials;
    ///
    /// let builder = ImpersonatedCredentials::builder_from_source(
    ///     StaticSource::new(AccessToken::new("ya29.user")),
    ///     "robot@p.iam.gserviceaccount.com",
    /// );
    /// # let _ = builder;
    /// ```
    pub fn builder_from_source(
        source: impl TokenSource + 'static,
        target_principal: impl Into<String>,
    ) -> ImpersonatedCredentialsBuilder {
        Self::builder(Credentials::new(source), target_principal)
    }

    /// The impersonated service account.
    pub fn target_principal(&self) -> &str {
        &self.inner.iam.principal
    }

    /// The delegation chain, as given.
    pub fn delegates(&self) -> &[String] {
        self.inner.iam.delegates.as_deref().unwrap_or_default()
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The lifetime asked for.
    pub fn lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// The universe domain the IAM endpoints are in.
    pub fn universe_domain(&self) -> &str {
        &self.inner.iam.universe_domain
    }

    /// The user impersonated through domain-wide delegation, if any.
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// The source credentials IAM calls are authorized with.
    pub fn source(&self) -> &Credentials {
        &self.inner.iam.source
    }

    /// The URL `generateAccessToken` is called at.
    pub fn access_token_url(&self) -> &str {
        &self.inner.access_token_url
    }

    /// A [`Signer`](credkit_core::Signer) signing as the target principal through `signBlob`,
    /// with the same source, delegates, endpoints, transport and clock.
    pub fn signer(&self) -> IamSigner {
        IamSigner::from_iam(self.inner.iam.clone())
    }

    /// A builder of ID tokens for `audience` issued to the target principal (`generateIdToken`),
    /// with the same source, delegates, endpoints, transport and clock.
    pub fn id_token_source_builder(
        &self,
        audience: impl Into<String>,
    ) -> ImpersonatedIdTokenSourceBuilder {
        ImpersonatedIdTokenSourceBuilder::new(self.inner.iam.clone(), audience.into())
    }

    /// ID tokens for `audience` issued to the target principal (`generateIdToken`), without
    /// its email; see [`id_token_source_builder`](Self::id_token_source_builder) for more.
    ///
    /// # Errors
    ///
    /// An empty audience.
    pub fn id_token_source(
        &self,
        audience: impl Into<String>,
    ) -> std::result::Result<crate::ImpersonatedIdTokenSource, BuildError> {
        self.id_token_source_builder(audience).build()
    }

    /// The body of a `generateAccessToken` request.
    fn access_token_body(&self) -> serde_json::Value {
        serde_json::json!({
            "delegates": self.inner.iam.delegates_json(),
            "scope": self.inner.scopes,
            "lifetime": format!("{}s", self.inner.lifetime.as_secs()),
        })
    }

    /// `generateAccessToken`.
    async fn generate(&self) -> Result<AccessToken> {
        let config = &self.inner;
        let (response, sent_at) = config
            .iam
            .post(
                &config.access_token_url,
                &self.access_token_body(),
                REFRESH_ERROR,
            )
            .await?;
        read_access_token(response.body(), sent_at)
    }

    /// Domain-wide delegation: `signJwt` of a JWT-bearer assertion for `subject`, then the
    /// grant at the token endpoint (without the source's credentials, as the reference).
    async fn delegate(&self, subject: &str) -> Result<AccessToken> {
        let config = &self.inner;
        let now = config.iam.clock.now().unix_timestamp();
        let lifetime = i64::try_from(DEFAULT_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        let claims = serde_json::json!({
            "iss": config.iam.principal,
            "scope": config.scopes.join(" "),
            "sub": subject,
            "aud": config.token_url,
            "iat": now,
            "exp": now.saturating_add(lifetime),
        });
        let body = serde_json::json!({
            "delegates": config.iam.delegates_json(),
            "payload": claims.to_string(),
        });
        let (response, _) = config
            .iam
            .post(&config.iam.url("signJwt"), &body, REFRESH_ERROR)
            .await?;
        let assertion = read_signed_jwt(response.body())?;
        let form = oauth::form_body(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                secrecy::ExposeSecret::expose_secret(&assertion),
            ),
        ]);
        let request = http::Request::post(config.token_url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)?;
        let sent_at = config.iam.clock.now();
        let response = config.iam.transport.send(request).await?;
        oauth::read_token_response(&response, sent_at, &[&assertion])
    }
}

/// A `generateAccessToken` success: `accessToken` and `expireTime` (RFC 3339).
pub(crate) fn read_access_token(body: &Bytes, sent_at: OffsetDateTime) -> Result<AccessToken> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "accessToken")]
        access_token: Option<SecretString>,
        #[serde(rename = "expireTime")]
        expire_time: Option<String>,
    }
    let missing = || {
        error::invalid(
            REFRESH_ERROR,
            "No access token or invalid expiration in response.",
        )
    };
    let wire: Wire = serde_json::from_slice(body).map_err(|_| missing())?;
    let (Some(secret), Some(expiry)) = (wire.access_token, wire.expire_time) else {
        return Err(missing());
    };
    let expiry = OffsetDateTime::parse(&expiry, &Rfc3339).map_err(|_| missing())?;
    Ok(AccessToken::validated(secret)?
        .with_expiry(expiry)
        .with_issued_at(sent_at))
}

/// A `signJwt` success: `signedJwt`.
pub(crate) fn read_signed_jwt(body: &Bytes) -> Result<SecretString> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "signedJwt")]
        signed_jwt: Option<SecretString>,
    }
    serde_json::from_slice::<Wire>(body)
        .ok()
        .and_then(|wire| wire.signed_jwt)
        .ok_or_else(|| error::invalid(REFRESH_ERROR, "No signed JWT in response."))
}

#[async_trait]
impl TokenSource for ImpersonatedCredentials {
    async fn fetch_token(&self) -> Result<AccessToken> {
        match &self.inner.subject {
            Some(subject) => self.delegate(subject).await,
            None => self.generate().await,
        }
    }

    fn name(&self) -> &'static str {
        "impersonated service account"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.inner.iam.clock))
    }

    fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project.as_deref()
    }
}

impl ImpersonatedCredentialsBuilder {
    /// The delegation chain: each delegate (`projects/-/serviceAccounts/{email}`, or as IAM
    /// accepts it; sent as given) has the Token Creator role on the next, the last on the
    /// target. Default: none (sent as `null`).
    pub fn with_delegates<I, S>(mut self, delegates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.delegates = Some(delegates.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes of the impersonated token. Default (none given, or an empty list):
    /// `https://www.googleapis.com/auth/cloud-platform`, as the Rust peer library: IAM refuses
    /// a request without scopes, and cloud-platform with the target's IAM roles is what almost
    /// every caller means (the reference requires the caller to pass them).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The lifetime asked for, in whole seconds (IAM allows up to 1 hour, or 12 hours where an
    /// organization policy extends it). Default and for zero: [`DEFAULT_LIFETIME`], as the
    /// reference.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = if lifetime.as_secs() == 0 {
            DEFAULT_LIFETIME
        } else {
            lifetime
        };
        self
    }

    /// The quota project of the *impersonated* credentials: what
    /// [`TokenSource::quota_project`] reports, so a [`Credentials`] over them sends it as
    /// `x-goog-user-project` on downstream requests. The IAM calls carry the source's own.
    /// Default: none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// The universe domain: IAM is called at `https://iamcredentials.{domain}`. Default
    /// `googleapis.com`.
    pub fn with_universe_domain(mut self, domain: impl Into<String>) -> Self {
        self.universe_domain = domain.into();
        self
    }

    /// The reference's `iam_endpoint_override`: the full URL of `generateAccessToken` (for a
    /// regional endpoint), which wins over the universe domain and
    /// [`with_iam_base_url`](Self::with_iam_base_url) for that method alone. Default: none.
    pub fn with_iam_endpoint_override(mut self, url: impl Into<String>) -> Self {
        self.iam_endpoint_override = Some(url.into());
        self
    }

    /// The origin of every IAM method (`generateAccessToken`, `generateIdToken`, `signBlob`,
    /// `signJwt`), replacing `https://iamcredentials.{universe}`: a regional endpoint, or a
    /// test's fake server. Plain `http` is for loopback only (the source's token is not sent
    /// over plain `http` elsewhere). Default: none.
    pub fn with_iam_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Domain-wide delegation: impersonate this user of a Google Workspace domain, through
    /// `signJwt` and the JWT-bearer grant (the target must be allowed to). Only in the
    /// `googleapis.com` universe. Default: none.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The token endpoint of domain-wide delegation's grant (and its assertion's `aud`).
    /// Default: [`GOOGLE_TOKEN_URI`].
    pub fn with_token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// The transport the IAM calls go through (`credkit_reqwest::ReqwestTransport`, say).
    /// Required.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock tokens are stamped by (give the same one to the [`Credentials`] over these).
    /// Default: [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the credentials.
    ///
    /// # Errors
    ///
    /// No transport; a target principal or delegate that cannot go into a URL path; a universe
    /// domain that is not a DNS name; an override that is not an absolute `http(s)` URL; a
    /// subject outside the `googleapis.com` universe ("Domain-wide delegation is not supported
    /// in universes other than googleapis.com").
    pub fn build(self) -> std::result::Result<ImpersonatedCredentials, BuildError> {
        let transport = self
            .transport
            .ok_or_else(|| error::no_transport("ImpersonatedCredentials"))?;
        let iam = Iam::build(
            self.source,
            transport,
            self.clock,
            self.principal,
            self.delegates,
            self.universe_domain,
            self.base_url,
        )?;
        if self.subject.is_some() && iam.universe_domain != DEFAULT_UNIVERSE_DOMAIN {
            return Err(error::dwd_universe());
        }
        let iam_endpoint_override = match self.iam_endpoint_override {
            Some(url) => Some(endpoint::check_url(&url, "IAM endpoint override", false)?),
            None => None,
        };
        let access_token_url = iam_endpoint_override
            .clone()
            .unwrap_or_else(|| iam.url("generateAccessToken"));
        let token_url = endpoint::check_url(&self.token_url, "token URL", false)?;
        let scopes = match self.scopes {
            Some(scopes) if !scopes.is_empty() => scopes,
            _ => vec![CLOUD_PLATFORM_SCOPE.to_owned()],
        };
        Ok(ImpersonatedCredentials {
            inner: Arc::new(Config {
                iam,
                scopes,
                lifetime: self.lifetime,
                quota_project: self.quota_project,
                access_token_url,
                iam_endpoint_override,
                subject: self.subject,
                token_url,
            }),
        })
    }
}

impl fmt::Debug for ImpersonatedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner;
        f.debug_struct("ImpersonatedCredentials")
            .field("target_principal", &config.iam.principal)
            .field("delegates", &config.iam.delegates)
            .field("scopes", &config.scopes)
            .field("lifetime", &config.lifetime)
            .field("quota_project", &config.quota_project)
            .field("universe_domain", &config.iam.universe_domain)
            .field("access_token_url", &config.access_token_url)
            .field("iam_endpoint_override", &config.iam_endpoint_override)
            .field("subject", &config.subject)
            .field("source", &config.iam.source.source_name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ImpersonatedCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpersonatedCredentialsBuilder")
            .field("target_principal", &self.principal)
            .field("delegates", &self.delegates)
            .field("scopes", &self.scopes)
            .field("lifetime", &self.lifetime)
            .field("quota_project", &self.quota_project)
            .field("universe_domain", &self.universe_domain)
            .field("subject", &self.subject)
            .field("transport", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: OffsetDateTime = time::macros::datetime!(2026-01-01 0:00 UTC);

    #[test]
    fn access_token_replies_are_read_strictly() {
        let token = read_access_token(
            &Bytes::from_static(
                br#"{"accessToken":"ya29.imp","expireTime":"2026-01-01T01:00:00.5Z"}"#,
            ),
            SENT,
        )
        .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(token.secret()),
            "ya29.imp"
        );
        assert_eq!(
            token.expiry().unwrap(),
            time::macros::datetime!(2026-01-01 1:00:00.5 UTC)
        );
        assert_eq!(token.issued_at(), Some(SENT));
        for body in [
            &br#"{"accessToken":"t"}"#[..],
            br#"{"expireTime":"2026-01-01T01:00:00Z"}"#,
            br#"{"accessToken":"t","expireTime":"tomorrow"}"#,
            br#"{"accessToken":5,"expireTime":"2026-01-01T01:00:00Z"}"#,
            b"nope",
        ] {
            let err = read_access_token(&Bytes::copy_from_slice(body), SENT).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Unable to acquire impersonated credentials: No access token or invalid expiration in response."
            );
        }
        let err = read_access_token(
            &Bytes::from_static(br#"{"accessToken":"a\nb","expireTime":"2026-01-01T01:00:00Z"}"#),
            SENT,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("a\nb"));
    }

    #[test]
    fn signed_jwt_replies_are_read() {
        assert!(read_signed_jwt(&Bytes::from_static(br#"{"signedJwt":"a.b.c"}"#)).is_ok());
        for body in [&b"{}"[..], b"[]", br#"{"signedJwt":1}"#] {
            assert_eq!(
                read_signed_jwt(&Bytes::copy_from_slice(body))
                    .unwrap_err()
                    .to_string(),
                "Unable to acquire impersonated credentials: No signed JWT in response."
            );
        }
    }
}
