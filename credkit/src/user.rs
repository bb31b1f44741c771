//! `authorized_user` credentials in ADC (feature `refresh-token`).

use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{AccessToken, CredentialRecord, Error, ErrorKind, Result, TokenSource};
use credkit_refresh_token::UserCredentials;

use crate::adc::{AdcCredential, LoadContext};

/// The `type` of a user's credentials file.
pub(crate) const AUTHORIZED_USER: &str = "authorized_user";

/// The OAuth client ID of the gcloud CLI.
const GCLOUD_CLIENT_ID: &str =
    "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com";

/// The loader of `authorized_user` files: the caller's scopes (else the file's), the quota
/// project of the context (else the file's), the context's transport and clock.
pub(crate) fn load(
    json: &serde_json::Value,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    let scopes = context.scopes().map(<[String]>::to_vec);
    let mut builder = UserCredentials::from_authorized_user_info(json, scopes)?
        .to_builder()
        .with_credential_source(context.origin())
        .with_transport(context.transport()?);
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    if let Some(project) = context.quota_project() {
        builder = builder.with_quota_project(project);
    }
    let user = builder.build()?;
    if user.quota_project().is_none() && user.client_id() == Some(GCLOUD_CLIENT_ID) {
        tracing::warn!(
            "Your application has authenticated using end user credentials from Google Cloud SDK without a quota project. You might receive a \"quota exceeded\" or \"API not enabled\" error. See the following page for troubleshooting: https://cloud.google.com/docs/authentication/adc-troubleshooting/user-creds. "
        );
    }
    Ok(Box::new(AuthorizedUser(user)))
}

/// A user's refresh token as an [`AdcCredential`]: what ADC finds in an `authorized_user`
/// file, and how to get the same answers (the ID-token source, the account) for
/// [`UserCredentials`] built any other way.
///
/// ```
/// use credkit::adc::{AdcCredential, AuthorizedUser};
/// use credkit::refresh_token::UserCredentials;
///
/// let user = UserCredentials::builder().with_refresh_token("1//r").build()?;
/// let credential = AuthorizedUser::new(user);
/// assert_eq!(credential.credential_type(), "authorized_user");
/// assert!(credential.id_token_source("ignored").is_ok());
/// # Ok::<(), credkit::core::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AuthorizedUser(UserCredentials);

impl AuthorizedUser {
    /// The credential over `user`.
    pub fn new(user: UserCredentials) -> Self {
        Self(user)
    }

    /// The user credentials.
    pub fn user(&self) -> &UserCredentials {
        &self.0
    }
}

#[async_trait]
impl AdcCredential for AuthorizedUser {
    fn credential_type(&self) -> &'static str {
        AUTHORIZED_USER
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.0.clone())
    }

    /// The ID token of the refresh response, as the reference's `Credentials.id_token`: the
    /// audience is the OAuth client, whatever `audience` says.
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        let _ = audience;
        Ok(Arc::new(UserIdTokens(self.0.clone())))
    }

    async fn email(&self) -> Result<Option<String>> {
        Ok(Some(self.0.account().to_owned()).filter(|a| !a.is_empty()))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.0)
    }
}

/// The ID tokens of a user's refresh responses: each fetch is a refresh, and its `id_token` is
/// the token, expiring at its own `exp` (at the access token's expiry if it has no readable
/// one). A rotated refresh token travels with it, so a caching layer with a storage keeps it.
#[derive(Debug)]
struct UserIdTokens(UserCredentials);

#[async_trait]
impl TokenSource for UserIdTokens {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let token = self.0.fetch_token().await?;
        let Some(id_token) = token.id_token().cloned() else {
            return Err(Error::new(
                ErrorKind::Provider,
                "the token endpoint returned no ID token: the refresh token must be granted the openid scope (run `gcloud auth application-default login`)",
            ));
        };
        // The ID token's own `exp` when it is a readable JWT (as every OpenID Connect ID token
        // is); otherwise the access token's expiry: Google issues both for the same hour.
        let mut id = match AccessToken::from_id_token(id_token.clone()) {
            Ok(id) => id,
            Err(err) => {
                tracing::debug!(reason = %err, "the refresh response's ID token has no readable exp; it expires with the access token");
                let mut id = AccessToken::validated(id_token)?.with_optional_expiry(token.expiry());
                if let Some(issued) = token.issued_at() {
                    id = id.with_issued_at(issued);
                }
                id
            }
        };
        if let Some(rotated) = token.rotated_refresh_token() {
            id = id.with_rotated_refresh_token(rotated.clone());
        }
        for (name, secret) in token.provider_secrets() {
            id = id.with_provider_secret(name, secret.clone());
        }
        Ok(id)
    }

    fn name(&self) -> &'static str {
        "user credentials (ID token)"
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        // The refresh token in the record is the user's, whichever token it came with.
        self.0.adopt_record(record);
    }

    fn clock(&self) -> Option<Arc<dyn credkit_core::Clock>> {
        Some(Arc::clone(UserCredentials::clock(&self.0)))
    }
}
