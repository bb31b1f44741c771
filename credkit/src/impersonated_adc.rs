//! `impersonated_service_account` credentials in ADC (feature `impersonated`): what
//! `gcloud auth application-default login --impersonate-service-account` writes.

use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Credentials, Error, ErrorKind, Result, Signer, TokenSource};
use credkit_impersonated::{
    IAM_SCOPE, IMPERSONATED_SERVICE_ACCOUNT, ImpersonatedCredentials,
    ImpersonatedServiceAccountInfo,
};

use crate::adc::{AdcCredential, LoadContext};

/// The `type` of an impersonated service account's credentials file.
pub(crate) const IMPERSONATED: &str = IMPERSONATED_SERVICE_ACCOUNT;

/// The loader of `impersonated_service_account` files.
///
/// - The source is built from `source_credentials` by the built-in loader of its type
///   (`authorized_user`, `service_account`, `external_account_authorized_user`), with the context's transport and clock but none of the caller's
///   scopes or quota project: those are the target's. A service-account source asks for the
///   IAM scope only, as the reference narrows every scoped source; a user's keeps its grant.
///   The source keeps the quota project of its own file, sent on the IAM calls.
/// - The target's scopes: the caller's, else the file's `scopes`, else the caller's default
///   scopes, else `cloud-platform`. Its quota project: the context's, else the file's.
/// - The universe domain: the source's `universe_domain`, else `googleapis.com`.
pub(crate) fn load(
    json: &serde_json::Value,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    let info = ImpersonatedServiceAccountInfo::from_json(json)?;
    let source = load_source(&info, context)?;
    let source = Credentials::new(source.token_source());
    let mut builder = ImpersonatedCredentials::builder(source, info.target_principal())
        .with_transport(context.transport()?)
        .with_delegates(info.delegates().iter().cloned());
    let scopes = context
        .scopes()
        .or(info.scopes())
        .or(context.default_scopes());
    if let Some(scopes) = scopes {
        builder = builder.with_scopes(scopes.iter().cloned());
    }
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    if let Some(project) = context.quota_project().or(info.quota_project()) {
        builder = builder.with_quota_project(project);
    }
    if let Some(universe) = info
        .source_credentials()
        .get("universe_domain")
        .and_then(serde_json::Value::as_str)
    {
        builder = builder.with_universe_domain(universe);
    }
    Ok(Box::new(Impersonated(builder.build()?)))
}

/// The source's credential, by the built-in loader of its type, in a context of its own.
fn load_source(
    info: &ImpersonatedServiceAccountInfo,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    let kind = info.source_type();
    let Some(loader) = LoadContext::builtin_loader(kind) else {
        return Err(Error::new(
            ErrorKind::Configuration,
            format!(
                "source credential of type {kind} is not supported by this build of credkit: \
                 enable the cargo feature of that credential type"
            ),
        ));
    };
    let mut nested = context.clone();
    nested.quota_project = None;
    nested.default_scopes = None;
    nested.scopes = (kind == "service_account").then(|| vec![IAM_SCOPE.to_owned()]);
    loader(info.source_credentials(), &nested)
}

/// Impersonated service account credentials as an [`AdcCredential`]: tokens, ID tokens
/// (`generateIdToken`), the target's email and a `signBlob` signer.
#[derive(Clone, Debug)]
struct Impersonated(ImpersonatedCredentials);

#[async_trait]
impl AdcCredential for Impersonated {
    fn credential_type(&self) -> &'static str {
        IMPERSONATED
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.0.clone())
    }

    /// ID tokens for `audience` through `generateIdToken`, with the account's email.
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        Ok(Arc::new(
            self.0
                .id_token_source_builder(audience)
                .with_include_email(true)
                .build()?,
        ))
    }

    async fn email(&self) -> Result<Option<String>> {
        Ok(Some(self.0.target_principal().to_owned()))
    }

    fn signer(&self) -> Option<Arc<dyn Signer>> {
        Some(Arc::new(self.0.signer()))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.0)
    }
}
