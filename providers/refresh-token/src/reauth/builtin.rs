//! The challenges credkit answers itself: `PASSWORD` through a caller's [`PasswordPrompt`],
//! `SAML` with the reference's error, `SECURITY_KEY` with an error saying to plug a handler in.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::Result;
use secrecy::{ExposeSecret, SecretString};

use super::challenge::{Challenge, ProposalResponse, ReauthChallenge};
use crate::error;

/// The prompt the reference shows for a password challenge.
pub const PASSWORD_PROMPT: &str = "Please enter your password:";

/// Asks the user for their password, for the `PASSWORD` reauthentication challenge.
///
/// Give one to
/// [`UserCredentialsBuilder::with_password_prompt`](crate::UserCredentialsBuilder::with_password_prompt).
/// It is called once per password challenge, with [`PASSWORD_PROMPT`] as the text to show; an
/// empty answer is sent as `" "`, as the reference does. Read without echo (the `rpassword`
/// crate, say), return the password as a [`SecretString`], and never log it. An error ends the
/// reauthentication and reaches the caller as it is.
///
/// ```
/// use async_trait::async_trait;
/// use credkit_core::Result;
/// use credkit_refresh_token::PasswordPrompt;
/// use secrecy::SecretString;
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// #[async_trait]
/// impl PasswordPrompt for FromVault {
///     async fn password(&self, _prompt: &str) -> Result<SecretString> {
///         Ok(SecretString::from("from the vault"))
///     }
/// }
/// # let _ = FromVault;
/// ```
#[async_trait]
pub trait PasswordPrompt: Send + Sync + fmt::Debug {
    /// The user's password, asked with `prompt`.
    ///
    /// # Errors
    ///
    /// When no password can be had (no terminal, end of input); it ends the flow.
    async fn password(&self, prompt: &str) -> Result<SecretString>;
}

credkit_core::forward_impls! {
    #[async_trait]
    trait PasswordPrompt {
        async fn password(&self, prompt: &str) -> Result<SecretString>;
    }
}

/// A [`PasswordPrompt`] made from an async closure by [`prompt_fn`].
#[derive(Clone)]
pub struct PromptFn<F> {
    f: F,
}

/// Makes a [`PasswordPrompt`] of an async closure that gets the prompt text and returns the
/// password.
///
/// ```
/// use credkit_refresh_token::{prompt_fn, UserCredentials};
/// use secrecy::SecretString;
///
/// let creds = UserCredentials::builder()
///     .with_enable_reauth_refresh(true)
///     .with_password_prompt(prompt_fn(|_prompt| async { Ok(SecretString::from("hunter2")) }))
///     .build()?;
/// # let _ = creds;
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
pub fn prompt_fn<F, Fut>(f: F) -> PromptFn<F>
where
    F: Fn(String) -> Fut + Send + Sync,
    Fut: Future<Output = Result<SecretString>> + Send,
{
    PromptFn { f }
}

impl<F> fmt::Debug for PromptFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromptFn").finish_non_exhaustive()
    }
}

#[async_trait]
impl<F, Fut> PasswordPrompt for PromptFn<F>
where
    F: Fn(String) -> Fut + Send + Sync,
    Fut: Future<Output = Result<SecretString>> + Send,
{
    async fn password(&self, prompt: &str) -> Result<SecretString> {
        (self.f)(prompt.to_owned()).await
    }
}

/// `PASSWORD`: the prompt's answer as `{"credential": <password>}`, `" "` for an empty one;
/// without a prompt, the reference's "not in an interactive session" error.
#[derive(Debug)]
pub(crate) struct Password {
    pub(crate) prompt: Option<Arc<dyn PasswordPrompt>>,
}

#[async_trait]
impl ReauthChallenge for Password {
    async fn respond(&self, _challenge: &Challenge) -> Result<Option<ProposalResponse>> {
        let Some(prompt) = &self.prompt else {
            return Err(error::reauth_not_interactive());
        };
        let password = prompt.password(PASSWORD_PROMPT).await?;
        let password = if password.expose_secret().is_empty() {
            SecretString::from(" ")
        } else {
            password
        };
        Ok(Some(ProposalResponse::password(&password)))
    }
}

/// `SAML`: always the reference's error (it cannot be answered outside a browser).
#[derive(Debug)]
pub(crate) struct Saml;

#[async_trait]
impl ReauthChallenge for Saml {
    async fn respond(&self, _challenge: &Challenge) -> Result<Option<ProposalResponse>> {
        Err(error::reauth_saml())
    }
}

/// `SECURITY_KEY` without a plugged-in handler: an error saying how to plug one in.
#[derive(Debug)]
pub(crate) struct SecurityKey;

#[async_trait]
impl ReauthChallenge for SecurityKey {
    async fn respond(&self, _challenge: &Challenge) -> Result<Option<ProposalResponse>> {
        Err(error::reauth_security_key_unsupported())
    }
}
