//! The two plug-in points of workload identity federation: a supplier of subject tokens (OIDC or
//! SAML), and a supplier of AWS security credentials and region. The built-in sources (a file, a
//! URL, an executable, AWS's metadata service) are suppliers too, so a caller's own supplier
//! goes through exactly the code they do.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Clock, Error, SystemClock, Transport};
use secrecy::SecretString;

/// Looks up an environment variable: `std::env::var` by default, a map in tests.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What a supplier is asked for, and the means to get it: the subject token type and the STS
/// audience of the credentials it serves (the reference's `SupplierContext`), the transport and
/// clock the credentials were built with, and the environment they read.
#[derive(Clone)]
pub struct SupplierContext {
    subject_token_type: String,
    audience: String,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    env: EnvLookup,
}

impl fmt::Debug for SupplierContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupplierContext")
            .field("subject_token_type", &self.subject_token_type)
            .field("audience", &self.audience)
            .field("transport", &self.transport)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl SupplierContext {
    /// A context for `subject_token_type` and `audience`, with the system clock, the process
    /// environment, and no transport. Credentials build their own; this is for testing a
    /// supplier.
    ///
    /// ```
    /// use credkit_external_account::SupplierContext;
    ///
    /// let context = SupplierContext::new(
    ///     "urn:ietf:params:oauth:token-type:jwt",
    ///     "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
    /// );
    /// assert_eq!(context.subject_token_type(), "urn:ietf:params:oauth:token-type:jwt");
    /// assert!(context.transport().is_err());
    /// ```
    pub fn new(subject_token_type: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            subject_token_type: subject_token_type.into(),
            audience: audience.into(),
            transport: None,
            clock: Arc::new(SystemClock),
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// The same context with `transport` for the supplier's requests.
    #[must_use]
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The same context with `clock` for every time decision and wait.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same context reading the environment through `lookup` instead of the process's.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use credkit_external_account::SupplierContext;
    ///
    /// let context = SupplierContext::new("urn:ietf:params:oauth:token-type:jwt", "aud")
    ///     .with_env_lookup(Arc::new(|name| (name == "REGION").then(|| "eu".to_owned())));
    /// assert_eq!(context.env("REGION").as_deref(), Some("eu"));
    /// assert_eq!(context.env("HOME"), None);
    /// ```
    #[must_use]
    pub fn with_env_lookup(mut self, lookup: EnvLookup) -> Self {
        self.env = lookup;
        self
    }

    /// The subject token type the STS exchange will declare, such as
    /// `urn:ietf:params:oauth:token-type:jwt`.
    pub fn subject_token_type(&self) -> &str {
        &self.subject_token_type
    }

    /// The STS audience: the workload or workforce pool provider's resource name.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The transport for the supplier's own requests.
    ///
    /// # Errors
    ///
    /// A configuration error when the context was built without one.
    pub fn transport(&self) -> Result<&Arc<dyn Transport>, Error> {
        self.transport.as_ref().ok_or_else(|| {
            Error::new(
                credkit_core::ErrorKind::Configuration,
                "no transport for the credential source's requests: give the credentials one with with_transport",
            )
        })
    }

    /// The clock for every time decision and wait.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The value of the environment variable `name`, if it is set.
    pub fn env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }
}

/// Supplies the subject token (an OIDC ID token, a SAML assertion) to exchange at Google's STS:
/// the reference's `identity_pool.SubjectTokenSupplier`.
///
/// The credentials do not cache subject tokens (they cache the Google token they are exchanged
/// for); a supplier that is expensive to call caches on its own. It never retries: errors are
/// classified by [`Error::is_transient`], and the caching layer retries what may succeed.
///
/// ```
/// use async_trait::async_trait;
/// use credkit_core::Error;
/// use credkit_external_account::{SubjectTokenSupplier, SupplierContext};
/// use secrecy::SecretString;
///
/// #[derive(Debug)]
/// struct FromVariable;
///
/// #[async_trait]
/// impl SubjectTokenSupplier for FromVariable {
///     async fn subject_token(&self, context: &SupplierContext) -> Result<SecretString, Error> {
///         context
///             .env("MY_OIDC_TOKEN")
///             .map(SecretString::from)
///             .ok_or_else(|| Error::not_configured("MY_OIDC_TOKEN is not set"))
///     }
/// }
///
/// let context = SupplierContext::new("urn:ietf:params:oauth:token-type:jwt", "aud")
///     .with_env_lookup(std::sync::Arc::new(|_| Some("eyJhbGciOi".to_owned())));
/// let token = futures::executor::block_on(FromVariable.subject_token(&context))?;
/// # let _ = token;
/// # Ok::<(), Error>(())
/// ```
#[async_trait]
pub trait SubjectTokenSupplier: Send + Sync + fmt::Debug {
    /// A valid subject token of `context.subject_token_type()` for `context.audience()`.
    ///
    /// # Errors
    ///
    /// Whatever kept the supplier from getting one; the message names what is wrong and never
    /// contains the token.
    async fn subject_token(&self, context: &SupplierContext) -> Result<SecretString, Error>;

    /// A short name of the source for `info` and logs: `file`, `url`, `executable`, `aws`, or
    /// `programmatic` (the default).
    fn kind(&self) -> &'static str {
        "programmatic"
    }
}

#[async_trait]
impl<T: SubjectTokenSupplier + ?Sized> SubjectTokenSupplier for Arc<T> {
    async fn subject_token(&self, context: &SupplierContext) -> Result<SecretString, Error> {
        (**self).subject_token(context).await
    }

    fn kind(&self) -> &'static str {
        (**self).kind()
    }
}

/// AWS security credentials: an access key ID, its secret, and the session token of temporary
/// credentials. `Debug` shows the key ID only.
#[derive(Clone)]
pub struct AwsSecurityCredentials {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

impl fmt::Debug for AwsSecurityCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSecurityCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl AwsSecurityCredentials {
    /// Long-lived credentials: `access_key_id` and `secret_access_key`.
    ///
    /// ```
    /// use credkit_external_account::AwsSecurityCredentials;
    ///
    /// let credentials = AwsSecurityCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI".into())
    ///     .with_session_token("IQoJb3JpZ2luX2VjE".into());
    /// assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
    /// assert!(!format!("{credentials:?}").contains("wJalr"));
    /// ```
    pub fn new(access_key_id: impl Into<String>, secret_access_key: SecretString) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token: None,
        }
    }

    /// The same credentials with the session token of temporary credentials.
    #[must_use]
    pub fn with_session_token(mut self, token: SecretString) -> Self {
        self.session_token = Some(token);
        self
    }

    /// The access key ID (not a secret: it names the key).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &SecretString {
        &self.secret_access_key
    }

    /// The session token, for temporary credentials.
    pub fn session_token(&self) -> Option<&SecretString> {
        self.session_token.as_ref()
    }
}

/// Supplies AWS security credentials and the AWS region, from which the credentials sign the
/// `GetCallerIdentity` request that is their subject token: the reference's
/// `aws.AwsSecurityCredentialsSupplier`.
///
/// The built-in supplier reads the `AWS_*` environment variables, then AWS's instance metadata
/// service (`IMDSv2`). Like [`SubjectTokenSupplier`], it does not cache unless it chooses to, and
/// never retries.
#[async_trait]
pub trait AwsSecurityCredentialsSupplier: Send + Sync + fmt::Debug {
    /// The AWS region, such as `us-east-1`.
    ///
    /// # Errors
    ///
    /// Whatever kept the supplier from finding it.
    async fn aws_region(&self, context: &SupplierContext) -> Result<String, Error>;

    /// Valid AWS security credentials.
    ///
    /// # Errors
    ///
    /// Whatever kept the supplier from getting them; never a secret in the message.
    async fn aws_security_credentials(
        &self,
        context: &SupplierContext,
    ) -> Result<AwsSecurityCredentials, Error>;
}

#[async_trait]
impl<T: AwsSecurityCredentialsSupplier + ?Sized> AwsSecurityCredentialsSupplier for Arc<T> {
    async fn aws_region(&self, context: &SupplierContext) -> Result<String, Error> {
        (**self).aws_region(context).await
    }

    async fn aws_security_credentials(
        &self,
        context: &SupplierContext,
    ) -> Result<AwsSecurityCredentials, Error> {
        (**self).aws_security_credentials(context).await
    }
}
