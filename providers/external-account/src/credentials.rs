//! `ExternalAccountCredentials`: a subject token from a supplier, exchanged at STS, and, when
//! configured, the STS token used to impersonate a service account.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, Clock, Credentials, Result, SystemClock, TokenSource, Transport,
};
use credkit_impersonated::{IAM_SCOPE, ImpersonatedCredentials};
use secrecy::SecretString;

use crate::info::ExternalAccountInfo;
use crate::sts::{ClientAuth, Exchange, StsClient};
use crate::supplier::{EnvLookup, SubjectTokenSupplier, SupplierContext};

/// The universe domain of Google Cloud's public APIs.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// The scope asked for when none is given (as the Rust peer; the reference asks for none).
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The STS endpoint of `universe`: `https://sts.{universe}/v1/token`.
fn default_token_url(universe: &str) -> String {
    format!("https://sts.{universe}/v1/token")
}

/// Credentials that exchange an external subject token (an OIDC ID token, a SAML assertion, a
/// signed AWS request) at Google's Security Token Service, and, when configured, use the STS
/// token to impersonate a service account: the reference's `external_account.Credentials`
/// (`identity_pool`, `aws` and `pluggable` alike, since they differ only in their supplier).
///
/// A [`TokenSource`]: wrap it in [`Credentials`] for caching, single flight, refresh ahead and
/// retries. Clones share one inner state (the STS token cached for impersonation).
#[derive(Clone)]
pub struct ExternalAccountCredentials {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) sts: Arc<StsSource>,
    impersonated: Option<ImpersonatedCredentials>,
    impersonation_url: Option<String>,
    pub(crate) quota_project: Option<String>,
    scopes: Vec<String>,
    universe_domain: String,
    token_info_url: Option<String>,
    clock: Arc<dyn Clock>,
    /// Cloud Resource Manager's origin, for [`project_id`](ExternalAccountCredentials::project_id).
    pub(crate) resource_manager_url: String,
    /// The project ID, once Cloud Resource Manager told it.
    pub(crate) project_id: std::sync::Mutex<Option<String>>,
}

impl fmt::Debug for ExternalAccountCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountCredentials")
            .field("audience", &self.inner.sts.context.audience())
            .field(
                "subject_token_type",
                &self.inner.sts.context.subject_token_type(),
            )
            .field("source", &self.inner.sts.supplier.kind())
            .field("token_url", &self.inner.sts.client.token_url)
            .field(
                "service_account_impersonation_url",
                &self.inner.impersonation_url,
            )
            .field("scopes", &self.inner.scopes)
            .field("quota_project", &self.inner.quota_project)
            .finish_non_exhaustive()
    }
}

/// The STS half: the supplier's subject token exchanged for a Google token. Its `Debug` shows
/// no secret: the client secret is redacted by `ClientAuth`, and suppliers show no token.
#[derive(Debug)]
pub(crate) struct StsSource {
    supplier: Arc<dyn SubjectTokenSupplier>,
    context: SupplierContext,
    pub(crate) client: StsClient,
    scopes: Vec<String>,
    workforce_pool_user_project: Option<String>,
    quota_project: Option<String>,
}

#[async_trait]
impl TokenSource for StsSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        // Before the subject token is fetched: the Google token's lifetime counts from here, as
        // the reference counts it.
        let started = self.context.clock().now();
        let subject_token = self.supplier.subject_token(&self.context).await?;
        // Google's `options` carry the user project only when no client authenticates: the
        // client ID is enough for STS to find it.
        let user_project = self
            .workforce_pool_user_project
            .as_deref()
            .filter(|_| self.client.client_auth.is_none());
        let exchange = Exchange {
            audience: self.context.audience(),
            scopes: &self.scopes,
            subject_token_type: self.context.subject_token_type(),
            user_project,
        };
        self.client
            .exchange(&exchange, &subject_token, started)
            .await
    }

    fn name(&self) -> &'static str {
        "external_account (STS)"
    }

    fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }
}

impl ExternalAccountCredentials {
    /// A builder of credentials exchanging the subject tokens of `supplier` (of
    /// `subject_token_type`, such as `urn:ietf:params:oauth:token-type:jwt`) for `audience`
    /// (the workload or workforce pool provider).
    ///
    /// ```
    /// use credkit_external_account::{ExternalAccountCredentials, SubjectTokenSupplier, SupplierContext};
    /// # use async_trait::async_trait;
    /// # #[derive(Debug)]
    /// # struct MyOidc;
    /// # #[async_trait]
    /// # impl SubjectTokenSupplier for MyOidc {
    /// #     async fn subject_token(&self, _: &SupplierContext) -> Result<secrecy::SecretString, credkit_core::Error> {
    /// #         Ok("eyJ...".into())
    /// #     }
    /// # }
    ///
    /// let builder = ExternalAccountCredentials::builder(
    ///     "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc",
    ///     "urn:ietf:params:oauth:token-type:jwt",
    ///     MyOidc,
    /// );
    /// assert!(builder.build().is_err()); // no transport yet
    /// ```
    pub fn builder(
        audience: impl Into<String>,
        subject_token_type: impl Into<String>,
        supplier: impl SubjectTokenSupplier + 'static,
    ) -> ExternalAccountCredentialsBuilder {
        Self::builder_with_supplier(
            audience.into(),
            subject_token_type.into(),
            Arc::new(supplier),
        )
    }

    pub(crate) fn builder_with_supplier(
        audience: String,
        subject_token_type: String,
        supplier: Arc<dyn SubjectTokenSupplier>,
    ) -> ExternalAccountCredentialsBuilder {
        ExternalAccountCredentialsBuilder {
            audience,
            subject_token_type,
            supplier,
            token_url: None,
            token_info_url: None,
            scopes: None,
            client_id: None,
            client_secret: None,
            workforce_pool_user_project: None,
            quota_project: None,
            universe_domain: DEFAULT_UNIVERSE_DOMAIN.to_owned(),
            impersonation_url: None,
            impersonation_lifetime: None,
            resource_manager_url: None,
            transport: None,
            clock: Arc::new(SystemClock),
            env: None,
        }
    }

    /// A builder from a read `external_account` file.
    pub fn from_info(info: &ExternalAccountInfo) -> ExternalAccountCredentialsBuilder {
        let mut builder = Self::builder_with_supplier(
            info.audience.clone(),
            info.subject_token_type.clone(),
            Arc::clone(&info.supplier),
        );
        builder.token_url.clone_from(&info.token_url);
        builder.token_info_url.clone_from(&info.token_info_url);
        builder.client_id.clone_from(&info.client_id);
        builder.client_secret.clone_from(&info.client_secret);
        builder.quota_project.clone_from(&info.quota_project);
        builder
            .workforce_pool_user_project
            .clone_from(&info.workforce_pool_user_project);
        if let Some(universe) = &info.universe_domain {
            builder.universe_domain.clone_from(universe);
        }
        builder
            .impersonation_url
            .clone_from(&info.impersonation_url);
        builder.impersonation_lifetime = info.impersonation_lifetime;
        builder
    }

    /// The STS audience.
    pub fn audience(&self) -> &str {
        self.inner.sts.context.audience()
    }

    /// The subject token type.
    pub fn subject_token_type(&self) -> &str {
        self.inner.sts.context.subject_token_type()
    }

    /// The STS endpoint.
    pub fn token_url(&self) -> &str {
        &self.inner.sts.client.token_url
    }

    /// The STS token introspection endpoint, if configured (kept, never called).
    pub fn token_info_url(&self) -> Option<&str> {
        self.inner.token_info_url.as_deref()
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The universe domain.
    pub fn universe_domain(&self) -> &str {
        &self.inner.universe_domain
    }

    /// The impersonated service account, if any.
    pub fn service_account_email(&self) -> Option<&str> {
        self.inner
            .impersonation_url
            .as_deref()
            .and_then(service_account_email)
    }

    /// The impersonated credentials the STS token serves, if any.
    pub fn impersonated(&self) -> Option<&ImpersonatedCredentials> {
        self.inner.impersonated.as_ref()
    }

    /// Which source supplies the subject token: `file`, `url`, `executable`, `aws` or
    /// `programmatic`.
    pub fn source_kind(&self) -> &'static str {
        self.inner.sts.supplier.kind()
    }

    /// Whether the audience is a workforce pool's.
    pub fn is_workforce_pool(&self) -> bool {
        is_workforce_pool(self.audience())
    }

    /// Whether these credentials are a user's (a workforce pool, not impersonating), as the
    /// reference's `is_user`.
    pub fn is_user(&self) -> bool {
        self.inner.impersonation_url.is_none() && self.is_workforce_pool()
    }

    /// The workload pool's project number, from the audience.
    pub fn project_number(&self) -> Option<&str> {
        project_number(self.audience())
    }

    /// The workforce pool user project, if any.
    pub fn workforce_pool_user_project(&self) -> Option<&str> {
        self.inner.sts.workforce_pool_user_project.as_deref()
    }
}

#[async_trait]
impl TokenSource for ExternalAccountCredentials {
    async fn fetch_token(&self) -> Result<AccessToken> {
        match &self.inner.impersonated {
            Some(impersonated) => impersonated.fetch_token().await,
            None => self.inner.sts.fetch_token().await,
        }
    }

    fn name(&self) -> &'static str {
        "external_account"
    }

    fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project.as_deref()
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.inner.clock))
    }
}

/// A builder of [`ExternalAccountCredentials`].
#[must_use]
pub struct ExternalAccountCredentialsBuilder {
    audience: String,
    subject_token_type: String,
    supplier: Arc<dyn SubjectTokenSupplier>,
    token_url: Option<String>,
    token_info_url: Option<String>,
    scopes: Option<Vec<String>>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    workforce_pool_user_project: Option<String>,
    quota_project: Option<String>,
    universe_domain: String,
    impersonation_url: Option<String>,
    impersonation_lifetime: Option<Duration>,
    resource_manager_url: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    env: Option<EnvLookup>,
}

impl fmt::Debug for ExternalAccountCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountCredentialsBuilder")
            .field("audience", &self.audience)
            .field("subject_token_type", &self.subject_token_type)
            .field("supplier", &self.supplier)
            .field("token_url", &self.token_url)
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ExternalAccountCredentialsBuilder {
    /// The STS endpoint; by default `https://sts.{universe_domain}/v1/token`.
    pub fn with_token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The STS introspection endpoint (kept for `info`, never called).
    pub fn with_token_info_url(mut self, url: impl Into<String>) -> Self {
        self.token_info_url = Some(url.into());
        self
    }

    /// The scopes to ask for; by default `cloud-platform`.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// An OAuth client, authenticated to STS with HTTP basic (the secret may be absent).
    pub fn with_client(
        mut self,
        client_id: impl Into<String>,
        secret: Option<SecretString>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = secret;
        self
    }

    /// The project billed for a workforce pool's requests (workforce pools only).
    pub fn with_workforce_pool_user_project(mut self, project: impl Into<String>) -> Self {
        self.workforce_pool_user_project = Some(project.into());
        self
    }

    /// The quota project sent with every request the credentials authorize.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// The universe domain; by default `googleapis.com`.
    pub fn with_universe_domain(mut self, domain: impl Into<String>) -> Self {
        self.universe_domain = domain.into();
        self
    }

    /// Impersonate a service account after the exchange: `url` is its `generateAccessToken`
    /// URL (`https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken`).
    pub fn with_service_account_impersonation_url(mut self, url: impl Into<String>) -> Self {
        self.impersonation_url = Some(url.into());
        self
    }

    /// The impersonated token's lifetime (`service_account_impersonation.token_lifetime_seconds`);
    /// by default one hour.
    pub fn with_impersonation_lifetime(mut self, lifetime: Duration) -> Self {
        self.impersonation_lifetime = Some(lifetime);
        self
    }

    /// Cloud Resource Manager's origin for
    /// [`project_id`](ExternalAccountCredentials::project_id); by default
    /// `https://cloudresourcemanager.{universe_domain}`.
    pub fn with_cloud_resource_manager_url(mut self, url: impl Into<String>) -> Self {
        self.resource_manager_url = Some(url.into());
        self
    }

    /// The transport of every request: the source's, STS's and IAM's.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock; the same one goes to the [`Credentials`] wrapping these.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Reads the environment through `lookup` (the executable gate, AWS's variables) instead of
    /// the process's.
    pub fn with_env_lookup(mut self, lookup: EnvLookup) -> Self {
        self.env = Some(lookup);
        self
    }

    /// The credentials.
    ///
    /// # Errors
    ///
    /// No transport; an empty audience or subject token type; a workforce pool user project on
    /// a workload pool; an impersonation URL without a service account, or a lifetime IAM
    /// refuses; a malformed universe domain or URL.
    pub fn build(self) -> std::result::Result<ExternalAccountCredentials, BuildError> {
        let transport = self.transport.ok_or_else(|| {
            BuildError::missing_field("transport (give the builder one with with_transport)")
        })?;
        if self.audience.is_empty() {
            return Err(BuildError::missing_field("audience"));
        }
        if self.subject_token_type.is_empty() {
            return Err(BuildError::missing_field("subject_token_type"));
        }
        check_workforce_project(&self.audience, self.workforce_pool_user_project.as_deref())?;
        check_universe(&self.universe_domain)?;
        let token_url = match self.token_url {
            Some(url) => check_url(&url, "token_url")?,
            None => default_token_url(&self.universe_domain),
        };
        let resource_manager_url = match self.resource_manager_url {
            Some(url) => check_url(&url, "the Cloud Resource Manager URL")?
                .trim_end_matches('/')
                .to_owned(),
            None => format!("https://cloudresourcemanager.{}", self.universe_domain),
        };
        let scopes = self
            .scopes
            .unwrap_or_else(|| vec![CLOUD_PLATFORM_SCOPE.to_owned()]);
        let mut context = SupplierContext::new(&self.subject_token_type, &self.audience)
            .with_transport(Arc::clone(&transport))
            .with_clock(Arc::clone(&self.clock));
        if let Some(env) = self.env {
            context = context.with_env_lookup(env);
        }
        // An empty client ID is no client, as the reference's `if self._client_id`.
        let client_auth = self
            .client_id
            .filter(|id| !id.is_empty())
            .map(|client_id| ClientAuth {
                client_id,
                client_secret: self.client_secret,
            });
        let impersonating = self.impersonation_url.is_some();
        let sts = Arc::new(StsSource {
            supplier: self.supplier,
            context,
            client: StsClient {
                token_url,
                client_auth,
                transport: Arc::clone(&transport),
                clock: Arc::clone(&self.clock),
            },
            // The STS token of an impersonation only calls IAM: the IAM scope, whatever the
            // target's scopes, as the reference narrows every scoped impersonation source.
            scopes: if impersonating {
                vec![IAM_SCOPE.to_owned()]
            } else {
                scopes.clone()
            },
            workforce_pool_user_project: self.workforce_pool_user_project,
            quota_project: self.quota_project.clone(),
        });
        let impersonated = match &self.impersonation_url {
            Some(url) => {
                let url = check_url(url, "service_account_impersonation_url")?;
                let email = service_account_email(&url).ok_or_else(|| {
                    BuildError::invalid_value(
                        "Unable to determine target principal from service account impersonation URL.",
                    )
                })?;
                // The STS token is cached here and shared by every IAM call; retries are the
                // outer credentials' business.
                let source = Credentials::builder(Arc::clone(&sts))
                    .with_clock(Arc::clone(&self.clock))
                    .without_retries()
                    .build()?;
                let mut builder = ImpersonatedCredentials::builder(source, email)
                    .with_scopes(scopes.iter().cloned())
                    .with_universe_domain(&self.universe_domain)
                    .with_iam_endpoint_override(url.clone())
                    // ID tokens and signatures go to the same IAM origin as the access tokens
                    // (a regional or private endpoint, a test's fake), not to the default one.
                    .with_iam_base_url(iam_origin(&url))
                    .with_transport(Arc::clone(&transport))
                    .with_clock(Arc::clone(&self.clock));
                if let Some(lifetime) = self.impersonation_lifetime {
                    builder = builder.with_lifetime(lifetime);
                }
                if let Some(project) = &self.quota_project {
                    builder = builder.with_quota_project(project);
                }
                Some(builder.build()?)
            }
            None => None,
        };
        Ok(ExternalAccountCredentials {
            inner: Arc::new(Inner {
                sts,
                impersonated,
                impersonation_url: self.impersonation_url,
                quota_project: self.quota_project,
                scopes,
                universe_domain: self.universe_domain,
                token_info_url: self.token_info_url,
                clock: self.clock,
                resource_manager_url,
                project_id: std::sync::Mutex::new(None),
            }),
        })
    }
}

/// The service account of an impersonation URL: what lies between its last `/` and
/// `:generateAccessToken`, as the reference's `service_account_email`.
pub(crate) fn service_account_email(url: &str) -> Option<&str> {
    let end = url.find(":generateAccessToken")?;
    let start = url.rfind('/')? + 1;
    url.get(start..end).filter(|email| !email.is_empty())
}

/// The origin (`scheme://host[:port]`) of an impersonation URL, already checked by
/// [`check_url`].
fn iam_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Whether `audience` is a workforce pool's: `//iam.googleapis.com/locations/LOCATION/workforcePools/...`.
pub(crate) fn is_workforce_pool(audience: &str) -> bool {
    audience
        .strip_prefix("//iam.googleapis.com/locations/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(location, rest)| !location.is_empty() && rest.starts_with("workforcePools/"))
}

/// The project number in `audience`: the member after `projects`, if not empty.
pub(crate) fn project_number(audience: &str) -> Option<&str> {
    let mut parts = audience.split('/');
    parts.find(|part| *part == "projects")?;
    parts.next().filter(|number| !number.is_empty())
}

/// Workload pools have no user project: the reference's check and message.
pub(crate) fn check_workforce_project(
    audience: &str,
    project: Option<&str>,
) -> std::result::Result<(), BuildError> {
    if project.is_some() && !is_workforce_pool(audience) {
        return Err(BuildError::invalid_value(
            "workforce_pool_user_project should not be set for non-workforce pool credentials",
        ));
    }
    Ok(())
}

/// A universe domain is a DNS name: letters, digits, `-` and `.`, not empty.
fn check_universe(domain: &str) -> std::result::Result<(), BuildError> {
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(BuildError::invalid_value(
            "universe_domain must be a DNS name such as googleapis.com",
        ));
    }
    Ok(())
}

/// An endpoint: `https://` (or `http://`, which the transport allows to loopback only), with a
/// host, and no space or control character.
pub(crate) fn check_url(url: &str, what: &str) -> std::result::Result<String, BuildError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_none_or(str::is_empty) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BuildError::invalid_value(format!(
            "{what} must be an absolute https URL"
        )));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_is_read_from_the_impersonation_url() {
        assert_eq!(
            service_account_email(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
            ),
            Some("sa@p.iam.gserviceaccount.com")
        );
        assert_eq!(
            service_account_email("https://x/v1/projects/-/serviceAccounts/"),
            None
        );
        assert_eq!(
            service_account_email("https://x/:generateAccessToken"),
            None
        );
    }

    #[test]
    fn the_iam_origin_is_the_urls() {
        assert_eq!(
            iam_origin(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a:generateAccessToken"
            ),
            "https://iamcredentials.googleapis.com"
        );
        assert_eq!(
            iam_origin("http://127.0.0.1:8080/v1/x?y"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn workforce_pools_are_told_by_the_audience() {
        assert!(is_workforce_pool(
            "//iam.googleapis.com/locations/global/workforcePools/pool/providers/p"
        ));
        assert!(!is_workforce_pool(
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/p"
        ));
        assert!(!is_workforce_pool(
            "//iam.googleapis.com/locations//workforcePools/pool"
        ));
        assert!(!is_workforce_pool(
            "x//iam.googleapis.com/locations/g/workforcePools/p"
        ));
        assert_eq!(
            check_workforce_project("//iam.googleapis.com/projects/1/x", Some("p"))
                .unwrap_err()
                .to_string(),
            "workforce_pool_user_project should not be set for non-workforce pool credentials"
        );
    }

    #[test]
    fn the_project_number_follows_projects() {
        assert_eq!(
            project_number("//iam.googleapis.com/projects/123/locations/x"),
            Some("123")
        );
        assert_eq!(project_number("//iam.googleapis.com/projects/"), None);
        assert_eq!(project_number("//iam.googleapis.com/locations/x"), None);
    }
}
