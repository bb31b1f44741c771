//! `IamSigner`: a core `Signer` through the IAM Credentials API's `signBlob` (the reference's
//! `impersonated_credentials.Credentials.sign_bytes` and `iam.Signer`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credkit_core::{
    BuildError, Clock, Credentials, Result, RetryPolicy, Signature, Signer, SystemClock, Transport,
};
use serde::Deserialize;

use crate::call::Iam;
use crate::endpoint::DEFAULT_UNIVERSE_DOMAIN;
use crate::error::{self, SIGN_ERROR};

/// Signs bytes as a service account through `signBlob`: a [`Signer`] for accounts whose keys
/// Google keeps (the target of impersonation, or any account the credentials may sign as).
///
/// Each [`sign`](Signer::sign) `POST`s `{"payload": base64(message), "delegates": […] or null}`
/// to `…/serviceAccounts/{email}:signBlob` with the credentials' headers and returns
/// `signedBlob` with its `keyId`. A 500, 502, 503 or 504 (as the reference's
/// `IAM_RETRY_CODES`), a 408 or 429, or a transient transport failure is tried again, three
/// attempts in all, waiting about 1 s then 2 s (±10 %) on the [`Clock`]
/// ([`RetryPolicy::default`], the reference's exponential backoff); the last such failure
/// becomes "exhausted signBlob endpoint retries: …". The algorithm is RS256.
///
/// # Examples
///
/// ```
/// use credkit_core::{AccessToken, Credentials, Signer, StaticSource};
/// use credkit_impersonated::IamSigner;
/// use credkit_reqwest::ReqwestTransport;
/// use credkit_testing::FakeIamServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let iam = FakeIamServer::start().await?;
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let signer = IamSigner::builder(credentials, "robot@p.iam.gserviceaccount.com")
///     .with_iam_base_url(iam.url())
///     .with_transport(ReqwestTransport::new()?)
///     .build()?;
/// let signature = signer.sign(b"hello").await?;
/// assert!(iam.verify(b"hello", signature.bytes()));
/// assert_eq!(signature.key_id(), Some(iam.key_id()));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// From [`sign`](Signer::sign): the credentials' and the transport's errors; an IAM error
/// reply as `Error calling sign_bytes: <status>: <message>` (typed and scrubbed as
/// [`ImpersonatedCredentials`](crate::ImpersonatedCredentials)' are); `Error calling
/// sign_bytes: No signature in response.` for a 200 without a base64 `signedBlob`.
#[derive(Clone)]
pub struct IamSigner {
    iam: Iam,
    policy: RetryPolicy,
}

/// Builds an [`IamSigner`]; from [`IamSigner::builder`].
#[must_use]
pub struct IamSignerBuilder {
    source: Credentials,
    email: String,
    delegates: Option<Vec<String>>,
    universe_domain: String,
    base_url: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
}

impl IamSigner {
    /// A builder of a signer for the service account `email`, calling IAM with `credentials`
    /// (which need `iam.serviceAccounts.signBlob` on it).
    pub fn builder(credentials: Credentials, email: impl Into<String>) -> IamSignerBuilder {
        IamSignerBuilder {
            source: credentials,
            email: email.into(),
            delegates: None,
            universe_domain: DEFAULT_UNIVERSE_DOMAIN.to_owned(),
            base_url: None,
            transport: None,
            clock: Arc::new(SystemClock),
            policy: RetryPolicy::default(),
        }
    }

    pub(crate) fn from_iam(iam: Iam) -> Self {
        Self {
            iam,
            policy: RetryPolicy::default(),
        }
    }

    /// The URL `signBlob` is called at.
    pub fn sign_url(&self) -> String {
        self.iam.url("signBlob")
    }

    /// One `signBlob` call; a 502 counts as transient here (the reference retries it).
    async fn attempt(&self, url: &str, body: &serde_json::Value) -> Result<Signature> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "signedBlob")]
            signed_blob: Option<String>,
            #[serde(rename = "keyId")]
            key_id: Option<String>,
        }
        let (response, _) = match self.iam.post(url, body, SIGN_ERROR).await {
            Err(err) if err.http_status() == Some(502) => return Err(err.with_transient(true)),
            other => other?,
        };
        let wire = serde_json::from_slice::<Wire>(response.body()).ok();
        let (bytes, key_id) = wire
            .and_then(|wire| {
                let bytes = STANDARD.decode(wire.signed_blob?).ok()?;
                Some((bytes, wire.key_id))
            })
            .filter(|(bytes, _)| !bytes.is_empty())
            .ok_or_else(|| error::invalid(SIGN_ERROR, "No signature in response."))?;
        let signature = Signature::new(bytes);
        Ok(match key_id {
            Some(key_id) if !key_id.is_empty() => signature.with_key_id(key_id),
            _ => signature,
        })
    }
}

#[async_trait]
impl Signer for IamSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature> {
        let url = self.sign_url();
        let body = serde_json::json!({
            "payload": STANDARD.encode(message),
            "delegates": self.iam.delegates_json(),
        });
        self.policy
            .run(self.iam.clock.as_ref(), "signBlob", || {
                self.attempt(&url, &body)
            })
            .await
            .map_err(|err| {
                if err.is_transient() {
                    error::sign_exhausted(&err)
                } else {
                    err
                }
            })
    }

    fn signer_email(&self) -> &str {
        &self.iam.principal
    }
}

impl IamSignerBuilder {
    /// The delegation chain, as [`ImpersonatedCredentialsBuilder::with_delegates`](crate::ImpersonatedCredentialsBuilder::with_delegates).
    /// Default: none.
    pub fn with_delegates<I, S>(mut self, delegates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.delegates = Some(delegates.into_iter().map(Into::into).collect());
        self
    }

    /// The universe domain: IAM is called at `https://iamcredentials.{domain}`. Default
    /// `googleapis.com`.
    pub fn with_universe_domain(mut self, domain: impl Into<String>) -> Self {
        self.universe_domain = domain.into();
        self
    }

    /// The origin of `signBlob`, replacing `https://iamcredentials.{universe}` (a regional
    /// endpoint, a test's fake). Default: none.
    pub fn with_iam_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The transport. Required.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock the retries wait on. Default: [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How retryable failures are retried. Default: [`RetryPolicy::default`] (the reference's
    /// 3 attempts, 1 s then 2 s); [`RetryPolicy::none`] for one attempt.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the signer.
    ///
    /// # Errors
    ///
    /// No transport; an email that cannot go into a URL path; a universe domain that is not a
    /// DNS name; a base URL that is not an absolute `http(s)` URL.
    pub fn build(self) -> std::result::Result<IamSigner, BuildError> {
        let transport = self
            .transport
            .ok_or_else(|| error::no_transport("IamSigner"))?;
        let iam = Iam::build(
            self.source,
            transport,
            self.clock,
            self.email,
            self.delegates,
            self.universe_domain,
            self.base_url,
        )?;
        Ok(IamSigner {
            iam,
            policy: self.policy,
        })
    }
}

impl fmt::Debug for IamSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamSigner")
            .field("iam", &self.iam)
            .field("policy", &self.policy)
            .finish()
    }
}

impl fmt::Debug for IamSignerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamSignerBuilder")
            .field("email", &self.email)
            .field("delegates", &self.delegates)
            .field("universe_domain", &self.universe_domain)
            .field("base_url", &self.base_url)
            .field("transport", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}
