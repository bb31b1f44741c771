//! `service_account` credentials in ADC (feature `service-account`).

use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Result, Signer, TokenSource};
use credkit_service_account::{ServiceAccountCredentials, ServiceAccountKey};

use crate::adc::{AdcCredential, LoadContext};

/// The `type` of a service account's key file.
pub(crate) const SERVICE_ACCOUNT: &str = "service_account";

/// The loader of `service_account` files: the caller's scopes and default scopes, the quota
/// project of the context (else the file's), the context's transport and clock. As the
/// reference, a key without scopes outside the default universe makes self-signed JWTs.
pub(crate) fn load(
    json: &serde_json::Value,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    let key = ServiceAccountKey::from_json(json)?;
    let mut builder = ServiceAccountCredentials::builder(key).with_transport(context.transport()?);
    if let Some(scopes) = context.scopes() {
        builder = builder.with_scopes(scopes.iter().cloned());
    }
    if let Some(scopes) = context.default_scopes() {
        builder = builder.with_default_scopes(scopes.iter().cloned());
    }
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    if let Some(project) = context.quota_project() {
        builder = builder.with_quota_project(project);
    }
    Ok(Box::new(ServiceAccount(builder.build()?)))
}

/// A service account's key as an [`AdcCredential`]: what ADC finds in a `service_account`
/// file. It signs ([`signer`](AdcCredential::signer)), issues ID tokens for any audience, and
/// knows its email and project.
///
/// ```
/// use credkit::adc::{AdcCredential, ServiceAccount};
/// use credkit::service_account::ServiceAccountCredentials;
/// use credkit_testing::TestKey;
///
/// let key = TestKey::generate()?;
/// let json = key.service_account_json(
///     "robot@p.iam.gserviceaccount.com",
///     "https://oauth2.googleapis.com/token",
/// );
/// let credentials = ServiceAccountCredentials::from_service_account_json(&json)?;
/// let credential = ServiceAccount::new(credentials);
/// assert_eq!(credential.credential_type(), "service_account");
/// assert!(credential.signer().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServiceAccount(ServiceAccountCredentials);

impl ServiceAccount {
    /// The credential over `credentials`.
    pub fn new(credentials: ServiceAccountCredentials) -> Self {
        Self(credentials)
    }

    /// The service account credentials.
    pub fn credentials(&self) -> &ServiceAccountCredentials {
        &self.0
    }
}

#[async_trait]
impl AdcCredential for ServiceAccount {
    fn credential_type(&self) -> &'static str {
        SERVICE_ACCOUNT
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.0.clone())
    }

    /// ID tokens for `audience` through the JWT-bearer grant with a `target_audience`.
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        Ok(Arc::new(self.0.id_token_credentials(audience)?))
    }

    async fn email(&self) -> Result<Option<String>> {
        Ok(Some(self.0.service_account_email().to_owned()))
    }

    async fn project_id(&self) -> Result<Option<String>> {
        Ok(self.0.project_id().map(str::to_owned))
    }

    fn signer(&self) -> Option<Arc<dyn Signer>> {
        Some(Arc::new(self.0.signer()))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.0)
    }
}
