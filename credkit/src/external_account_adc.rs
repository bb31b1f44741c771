//! `external_account` credentials in ADC (feature `external-account`): workload and workforce
//! identity federation, as `gcloud iam workload-identity-pools create-cred-config` writes them.

use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Error, ErrorKind, Result, Signer, TokenSource};
use credkit_external_account::{
    EXTERNAL_ACCOUNT, EXTERNAL_ACCOUNT_AUTHORIZED_USER, ExternalAccountAuthorizedUserCredentials,
    ExternalAccountAuthorizedUserInfo, ExternalAccountCredentials, ExternalAccountInfo,
};

use crate::adc::{AdcCredential, LoadContext};

/// The `type` of an external account's credentials file.
pub(crate) const EXTERNAL: &str = EXTERNAL_ACCOUNT;

/// The `type` of a workforce identity user's credentials file (`gcloud auth
/// application-default login` with a workforce pool).
pub(crate) const EXTERNAL_USER: &str = EXTERNAL_ACCOUNT_AUTHORIZED_USER;

/// The loader of `external_account` files: the caller's scopes, else the default scopes, else
/// `cloud-platform`; the context's quota project, else the file's; the context's transport,
/// clock and environment (the executable gate and AWS's variables are read through it).
pub(crate) fn load(
    json: &serde_json::Value,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    let info = ExternalAccountInfo::from_json(json)?;
    let env = context.env().clone();
    let mut builder = info
        .builder()
        .with_transport(context.transport()?)
        .with_env_lookup(Arc::new(move |name| env.var(name)));
    if let Some(scopes) = context.scopes().or(context.default_scopes()) {
        builder = builder.with_scopes(scopes.iter().cloned());
    }
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    if let Some(project) = context.quota_project() {
        builder = builder.with_quota_project(project);
    }
    Ok(Box::new(External(builder.build()?)))
}

/// External account credentials as an [`AdcCredential`]: tokens, and, when they impersonate a
/// service account, its ID tokens, email and `signBlob` signer.
#[derive(Clone, Debug)]
struct External(ExternalAccountCredentials);

#[async_trait]
impl AdcCredential for External {
    fn credential_type(&self) -> &'static str {
        EXTERNAL
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.0.clone())
    }

    /// ID tokens through the impersonated service account's `generateIdToken`; an external
    /// account that impersonates none has no ID tokens to give.
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        let Some(impersonated) = self.0.impersonated() else {
            return Err(Error::new(
                ErrorKind::Configuration,
                "external_account credentials issue ID tokens only when they impersonate a \
                 service account: add service_account_impersonation_url to the file",
            ));
        };
        Ok(Arc::new(
            impersonated
                .id_token_source_builder(audience)
                .with_include_email(true)
                .build()?,
        ))
    }

    async fn email(&self) -> Result<Option<String>> {
        Ok(self.0.service_account_email().map(str::to_owned))
    }

    /// The pool's project, from Cloud Resource Manager (the reference's `get_project_id`).
    async fn project_id(&self) -> Result<Option<String>> {
        self.0.project_id().await
    }

    fn signer(&self) -> Option<Arc<dyn Signer>> {
        self.0
            .impersonated()
            .map(|impersonated| Arc::new(impersonated.signer()) as Arc<dyn Signer>)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.0)
    }
}

/// The loader of `external_account_authorized_user` files: the file's refresh token, client and
/// STS endpoint; the caller's scopes, else the file's; the context's quota project, else the
/// file's; the context's transport and clock.
pub(crate) fn load_authorized_user(
    json: &serde_json::Value,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    let info = ExternalAccountAuthorizedUserInfo::from_json(json)?;
    let mut builder = info.builder().with_transport(context.transport()?);
    if let Some(scopes) = context.scopes() {
        builder = builder.with_scopes(scopes.iter().cloned());
    }
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    if let Some(project) = context.quota_project() {
        builder = builder.with_quota_project(project);
    }
    Ok(Box::new(ExternalUser(builder.build()?)))
}

/// A workforce identity user's credentials as an [`AdcCredential`]: access tokens through
/// STS's refresh grant, the rotation kept as a user's.
#[derive(Clone, Debug)]
struct ExternalUser(ExternalAccountAuthorizedUserCredentials);

#[async_trait]
impl AdcCredential for ExternalUser {
    fn credential_type(&self) -> &'static str {
        EXTERNAL_USER
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.0.clone())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.0)
    }
}
