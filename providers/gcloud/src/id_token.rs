//! `GcloudIdTokenSource`: ID tokens from `gcloud auth print-identity-token`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, TokenSource};

use crate::GcloudSource;
use crate::error::{self, Wanted};
use crate::output;

/// The command as messages name it.
const COMMAND: &str = "gcloud auth print-identity-token";

/// A [`TokenSource`] of OpenID Connect ID tokens, from
/// `gcloud auth print-identity-token [--audiences=AUDIENCE] [--include-email] [--account=ACCOUNT]`:
/// what `credkit token --id-token` and ADC's gcloud fallback use for Cloud Run, IAP and Cloud
/// Functions.
///
/// Made from a [`GcloudSource`] with [`GcloudSource::id_token_source`], it runs the same
/// program, for the same account, with the same timeout and clock, the same way (no shell,
/// the process tree killed on timeout or cancellation, standard error never mixed into the
/// token; see [`GcloudSource`]). The token's expiry is its own `exp` claim, so wrapped in
/// [`Credentials`](credkit_core::Credentials) gcloud runs once per ID token lifetime.
///
/// gcloud accepts an audience only for a service account (a user's ID token is issued to
/// gcloud's own OAuth client, whatever is asked, as the reference's user credentials are): with
/// a user account leave [`with_audience`](Self::with_audience) unset, or gcloud fails with
/// "Invalid account type for `--audiences`", which this source reports.
///
/// # Examples
///
/// ```no_run
/// use credkit_core::TokenSource;
/// use credkit_gcloud::GcloudSource;
///
/// # futures::executor::block_on(async {
/// let source = GcloudSource::builder()
///     .with_account("robot@my-project.iam.gserviceaccount.com")
///     .build()?
///     .id_token_source()
///     .with_audience("https://my-service-abc123-uc.a.run.app")
///     .with_include_email(true);
/// let token = source.fetch_token().await?; // runs gcloud once
/// assert!(token.expiry().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// As [`GcloudSource`]'s, led by "Failed to obtain ID token"; output that is not one line
/// holding a JWT with a numeric `exp` is an
/// [`InvalidResponse`](credkit_core::ErrorKind::InvalidResponse) error that never quotes it.
#[derive(Clone)]
pub struct GcloudIdTokenSource {
    gcloud: GcloudSource,
    audience: Option<String>,
    include_email: bool,
}

impl GcloudSource {
    /// A source of ID tokens run like this one (program, account, timeout, clock), with no
    /// audience (gcloud's default) and without `--include-email`.
    pub fn id_token_source(&self) -> GcloudIdTokenSource {
        GcloudIdTokenSource {
            gcloud: self.clone(),
            audience: None,
            include_email: false,
        }
    }
}

impl GcloudIdTokenSource {
    /// Asks for a token for `audience` (`--audiences=AUDIENCE`; a service account only). An
    /// empty audience means none.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into()).filter(|a| !a.is_empty());
        self
    }

    /// Asks for `audience` when `account` (the account gcloud runs as) is a service account,
    /// and for none otherwise: gcloud refuses an audience for a user, whose ID token is issued
    /// to gcloud's OAuth client (see [`is_service_account`]).
    #[must_use]
    pub fn with_audience_for_account(self, audience: impl Into<String>, account: &str) -> Self {
        if is_service_account(account) {
            self.with_audience(audience)
        } else {
            self
        }
    }

    /// Asks for the account's `email` and `email_verified` claims (`--include-email`; a service
    /// account only).
    #[must_use]
    pub fn with_include_email(mut self, include_email: bool) -> Self {
        self.include_email = include_email;
        self
    }

    /// The audience asked for, if any.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Whether the email claims are asked for.
    pub fn include_email(&self) -> bool {
        self.include_email
    }

    /// The access-token source whose settings this one runs with.
    pub fn gcloud(&self) -> &GcloudSource {
        &self.gcloud
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["auth".to_owned(), "print-identity-token".to_owned()];
        if let Some(audience) = &self.audience {
            args.push(format!("--audiences={audience}"));
        }
        if self.include_email {
            args.push("--include-email".to_owned());
        }
        if let Some(account) = self.gcloud.account() {
            args.push(format!("--account={account}"));
        }
        args
    }
}

#[async_trait]
impl TokenSource for GcloudIdTokenSource {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        let finished = self
            .gcloud
            .run_args(Wanted::IdToken, COMMAND, &self.args())
            .await?;
        if !finished.status.success() {
            return Err(error::exited(
                Wanted::IdToken,
                COMMAND,
                finished.status,
                &finished.stderr,
            ));
        }
        output::from_print_identity_token(&finished.stdout)
            .map_err(|reason| error::invalid_output(Wanted::IdToken, COMMAND, &reason))
    }

    fn name(&self) -> &'static str {
        "gcloud (ID token)"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        TokenSource::clock(&self.gcloud)
    }
}

impl fmt::Debug for GcloudIdTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcloudIdTokenSource")
            .field("gcloud", &self.gcloud)
            .field("audience", &self.audience)
            .field("include_email", &self.include_email)
            .finish()
    }
}

/// Whether `account` is a service account (`…@….gserviceaccount.com`): the accounts for
/// which gcloud accepts an ID token's audience
/// ([`GcloudIdTokenSource::with_audience`]).
///
/// ```
/// use credkit_gcloud::is_service_account;
///
/// assert!(is_service_account("robot@my-project.iam.gserviceaccount.com"));
/// assert!(!is_service_account("me@example.com"));
/// ```
pub fn is_service_account(account: &str) -> bool {
    account
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.ends_with(".gserviceaccount.com"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_are_told_apart_from_users() {
        assert!(is_service_account("robot@p.iam.gserviceaccount.com"));
        assert!(is_service_account(
            "123-compute@developer.gserviceaccount.com"
        ));
        assert!(!is_service_account("user@example.com"));
        assert!(!is_service_account("gserviceaccount.com"));
        assert!(!is_service_account("x@gserviceaccount.com"));
        assert!(!is_service_account("x@p.gserviceaccount.com.evil"));
    }

    #[test]
    fn arguments() {
        let gcloud = GcloudSource::new();
        assert_eq!(
            gcloud.id_token_source().args(),
            ["auth", "print-identity-token"]
        );
        let source = gcloud
            .with_account("sa@p.iam.gserviceaccount.com")
            .unwrap()
            .id_token_source()
            .with_audience("https://a b")
            .with_include_email(true);
        assert_eq!(
            source.args(),
            [
                "auth",
                "print-identity-token",
                "--audiences=https://a b",
                "--include-email",
                "--account=sa@p.iam.gserviceaccount.com"
            ]
        );
        assert_eq!(source.audience(), Some("https://a b"));
        assert!(source.include_email());
        assert_eq!(source.clone().with_audience("").audience(), None);
        let ids = GcloudSource::new().id_token_source();
        assert_eq!(
            ids.clone()
                .with_audience_for_account("https://a", "robot@p.iam.gserviceaccount.com")
                .audience(),
            Some("https://a")
        );
        assert_eq!(
            ids.with_audience_for_account("https://a", "me@example.com")
                .audience(),
            None
        );
    }

    #[test]
    fn names_and_settings() {
        let gcloud = GcloudSource::builder()
            .with_program("/opt/sdk/bin/gcloud")
            .build()
            .unwrap();
        let source = gcloud.id_token_source();
        assert_eq!(source.name(), "gcloud (ID token)");
        assert!(!source.include_email());
        assert_eq!(
            source.gcloud().program(),
            std::path::Path::new("/opt/sdk/bin/gcloud")
        );
        // The clock the caching layer should share: the gcloud source's.
        let clock = TokenSource::clock(&source).unwrap();
        let theirs = TokenSource::clock(&gcloud).unwrap();
        assert!(Arc::ptr_eq(&clock, &theirs));
        assert!(format!("{source:?}").starts_with("GcloudIdTokenSource"));
    }
}
