//! Token revocation (RFC 7009).

use std::fmt;
use std::sync::Arc;

use credkit_core::oauth;
use credkit_core::{Clock, Error, ErrorKind, Result, SystemClock, Transport};
use credkit_refresh_token::UserCredentials;
use secrecy::{ExposeSecret, SecretString};

use crate::client::GOOGLE_REVOKE_URI;
use crate::{endpoint, grant};

/// Which kind of token is revoked: RFC 7009's `token_type_hint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// A refresh token: revoking it also ends the access tokens issued from it.
    RefreshToken,
    /// An access token.
    AccessToken,
}

impl TokenKind {
    /// The hint's value, as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefreshToken => "refresh_token",
            Self::AccessToken => "access_token",
        }
    }
}

/// What a revocation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// The server revoked the token.
    Revoked,
    /// The server did not know the token: it had expired, or was revoked already (Google
    /// answers `400 invalid_token`; RFC 7009 lets a server answer 200). Either way it no
    /// longer works.
    AlreadyInvalid,
}

/// Revokes tokens at an RFC 7009 endpoint (Google's by default).
///
/// ```no_run
/// use credkit_login::{Revocation, Revoker};
/// use credkit_refresh_token::UserCredentials;
///
/// # async fn f(transport: credkit_reqwest::ReqwestTransport) -> Result<(), Box<dyn std::error::Error>> {
/// let credentials = UserCredentials::from_authorized_user_file("authorized_user.json", None)?;
/// match Revoker::new(transport).revoke_credentials(&credentials).await? {
///     Revocation::Revoked => println!("revoked"),
///     _ => println!("it no longer worked anyway"),
/// }
/// # Ok(())
/// # }
/// # let _ = f;
/// ```
#[derive(Clone)]
pub struct Revoker {
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    uri: String,
}

impl fmt::Debug for Revoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revoker")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl Revoker {
    /// Revokes at [`GOOGLE_REVOKE_URI`] through `transport`.
    pub fn new(transport: impl Transport + 'static) -> Self {
        Self {
            transport: Arc::new(transport),
            clock: Arc::new(SystemClock),
            uri: GOOGLE_REVOKE_URI.to_owned(),
        }
    }

    /// Another revocation endpoint.
    #[must_use]
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    /// The clock a `Retry-After` date in an error is read against.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The revocation endpoint.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Revokes `token` (RFC 7009 section 2.1: a form `POST` of `token` and
    /// `token_type_hint`).
    ///
    /// # Errors
    ///
    /// A configuration error when the endpoint is not `https://` (or `http://` to loopback); a
    /// transport failure; the endpoint's error (an `invalid_token` answer is not one: it is
    /// [`Revocation::AlreadyInvalid`]).
    pub async fn revoke(&self, token: &SecretString, kind: TokenKind) -> Result<Revocation> {
        let url = endpoint::checked(&self.uri, "revocation endpoint")?;
        let request = grant::form_request(
            &url,
            &[
                ("token", token.expose_secret()),
                ("token_type_hint", kind.as_str()),
            ],
        )?;
        let response = self.transport.send(request).await?;
        if response.status().is_success() {
            return Ok(Revocation::Revoked);
        }
        let err = oauth::error_from_response(&response, self.clock.now(), &[token]);
        if err.oauth_error() == Some("invalid_token") {
            Ok(Revocation::AlreadyInvalid)
        } else {
            Err(err)
        }
    }

    /// Revokes the refresh token of `credentials` (or, without one, their access token).
    ///
    /// # Errors
    ///
    /// A configuration error when they hold neither; the errors of [`revoke`](Self::revoke).
    pub async fn revoke_credentials(&self, credentials: &UserCredentials) -> Result<Revocation> {
        if let Some(refresh_token) = credentials.refresh_token() {
            return self.revoke(&refresh_token, TokenKind::RefreshToken).await;
        }
        match credentials.token() {
            Some(token) => self.revoke(&token, TokenKind::AccessToken).await,
            None => Err(Error::new(
                ErrorKind::Configuration,
                "these credentials hold no refresh token or access token to revoke",
            )),
        }
    }
}
