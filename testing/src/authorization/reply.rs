//! The scripted answers of the fake authorization server: one queue per endpoint.

use std::fmt;

/// How a [`FakeAuthorizationServer`](crate::FakeAuthorizationServer) answers the next
/// authorization request that passes its checks: the user's side of the consent screen.
///
/// A queue of them is given to
/// [`with_authorize_replies`](crate::FakeAuthorizationServerBuilder::with_authorize_replies), one
/// per request; with none left, [`Code`](Self::Code). A request the checks refuse uses none.
///
/// ```
/// use credkit_testing::{AuthorizeReply, FakeAuthorizationServer};
///
/// let builder = FakeAuthorizationServer::builder().with_authorize_replies([
///     AuthorizeReply::Error("access_denied".to_owned()),
///     AuthorizeReply::WrongState,
///     AuthorizeReply::Code,
/// ]);
/// # drop(builder);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeReply {
    /// The user consents: `302` to `redirect_uri?code=<fresh code>&state=<state>&scope=<granted
    /// scopes, space-separated>`.
    Code,
    /// The user (or the server) refuses: `302` to `redirect_uri?error=<it>&error_description=
    /// ...&state=<state>`, such as `access_denied`.
    Error(String),
    /// `302` with a fresh, valid code but `state=<state>-tampered`: a forged redirect the
    /// client must refuse.
    WrongState,
    /// `302` with `state` only: neither a code nor an error.
    NoCode,
    /// `302` with two fresh codes, `code=<c1>&code=<c2>&state=<state>`: an ambiguous redirect
    /// the client must refuse.
    RepeatedCode,
    /// `200` with a `text/html` consent page that never redirects: the user who never comes
    /// back.
    NoRedirect,
}

/// How a [`FakeAuthorizationServer`](crate::FakeAuthorizationServer) answers the next
/// `authorization_code` grant on its token endpoint.
///
/// A queue of them is given to
/// [`with_token_replies`](crate::FakeAuthorizationServerBuilder::with_token_replies), one per
/// `authorization_code` request (whatever it carries: the reply is taken before the checks);
/// with none left, [`Issue`](Self::Issue). The refresh and device grants do not use it.
///
/// ```
/// use credkit_testing::{FakeAuthorizationServer, TokenReply};
///
/// let builder = FakeAuthorizationServer::builder().with_token_replies([
///     TokenReply::Garbage,
///     TokenReply::Json(503, r#"{"error":"temporarily_unavailable"}"#.to_owned()),
///     TokenReply::NoRefreshToken,
/// ]);
/// # drop(builder);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenReply {
    /// The checked exchange: client, code, `redirect_uri`, PKCE verifier; then tokens.
    Issue,
    /// `200` with `content-type: text/html` and the body `<html>oops</html>`, checking
    /// nothing.
    Garbage,
    /// This status with this body as `application/json`, checking nothing (a status that is
    /// not one answers `500`).
    Json(u16, String),
    /// The checked exchange, whose answer lacks `refresh_token` even when `access_type=offline`
    /// was authorized.
    NoRefreshToken,
}

/// Shows the variant, and of [`Json`](Self::Json) the status and the body's length only (a
/// scripted body may hold a token).
impl fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Issue => f.write_str("Issue"),
            Self::Garbage => f.write_str("Garbage"),
            Self::Json(status, body) => f
                .debug_struct("Json")
                .field("status", status)
                .field("body_len", &body.len())
                .finish(),
            Self::NoRefreshToken => f.write_str("NoRefreshToken"),
        }
    }
}

/// How a [`FakeAuthorizationServer`](crate::FakeAuthorizationServer) answers the next poll of
/// the device flow (RFC 8628 §3.4/§3.5) with a known device code.
///
/// A queue of them is given to
/// [`with_device_polls`](crate::FakeAuthorizationServerBuilder::with_device_polls), one per
/// poll; with none left, [`Approve`](Self::Approve).
///
/// ```
/// use credkit_testing::{DevicePoll, FakeAuthorizationServer};
///
/// let builder = FakeAuthorizationServer::builder()
///     .with_device_polls([DevicePoll::Pending, DevicePoll::SlowDown, DevicePoll::Approve]);
/// # drop(builder);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevicePoll {
    /// `428` `authorization_pending` (Google's status; RFC 8628 says 400).
    Pending,
    /// `403` `slow_down`.
    SlowDown,
    /// `403` `access_denied`: the user refused.
    Deny,
    /// `400` `expired_token`.
    Expire,
    /// `200` with tokens (a refresh token, and an ID token when `openid` is granted); the
    /// device code is used up.
    Approve,
}
