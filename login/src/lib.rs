//! Obtaining a user's credentials for credkit: the browser sign-in of an installed application,
//! the device flow, and revocation.
//!
//! credkit's refresh-token provider refreshes, caches, shares and rotates a user's credentials;
//! this crate obtains them in the first place, without gcloud:
//!
//! - [`InstalledFlow`]: the authorization-code flow (RFC 6749 section 4.1) with PKCE's S256
//!   method (RFC 7636), a random `state`, and a loopback redirect on an ephemeral port as RFC
//!   8252 prescribes for native applications. The user opens a URL, signs in, and the browser
//!   comes back to a listener on `127.0.0.1`, which checks the `state`, exchanges the code and
//!   shows a page saying the tab can be closed.
//! - [`DeviceFlow`]: the device authorization grant (RFC 8628), for a machine without a
//!   browser: a short code entered on another device, and polling that handles
//!   `authorization_pending`, `slow_down`, `access_denied` and `expired_token`.
//! - [`Revoker`]: token revocation (RFC 7009), for signing out.
//!
//! Both flows end with [`UserCredentials`](credkit_refresh_token::UserCredentials) holding the
//! refresh token, the first access token, the ID token (when `openid` was asked for) and the
//! granted scopes. [`UserCredentials::to_json`](credkit_refresh_token::UserCredentials::to_json)
//! writes the `authorized_user` JSON that Application Default Credentials, gcloud and every
//! Google client library read. The client comes from Google's `client_secret.json`
//! ([`OAuthClient::from_client_secrets_file`], `installed` or `web`) or from given values.
//!
//! ```no_run
//! use credkit_login::{InstalledFlow, OAuthClient};
//!
//! # async fn f(transport: credkit_reqwest::ReqwestTransport) -> Result<(), Box<dyn std::error::Error>> {
//! let client = OAuthClient::from_client_secrets_file("client_secret.json")?;
//! let login = InstalledFlow::new(client, transport).start()?;
//! println!("Open {}", login.authorization_url());
//! let user = login.finish().await?;
//! println!("granted: {:?}", user.granted_scopes());
//! # Ok(())
//! # }
//! # let _ = f;
//! ```
//!
//! # Why a crate of its own
//!
//! The refresh-token provider runs in servers that refresh millions of tokens and never sign
//! anyone in. A login listens on a socket, runs threads, draws random numbers and parses a
//! browser's requests: none of that belongs in every refresh. So the flows live here, on the
//! provider's public API (as a third-party crate could), and the facade re-exports them behind
//! its `login` feature.
//!
//! # No runtime
//!
//! Like credkit's core, this crate needs no async runtime and no HTTP stack. Requests go
//! through any [`Transport`](credkit_core::Transport); waits (the login's timeout, the device
//! flow's polling) go through a [`Clock`](credkit_core::Clock), so tests run them on a fake
//! clock; the loopback listener is a standard-library socket served by its own threads,
//! which hand the redirect to the awaiting future through a channel.
//!
//! # Security
//!
//! - The PKCE verifier (48 random bytes), the code, the client secret and every token are
//!   secrets: never in `Debug`, errors or logs, and zeroized on drop. Only the verifier's
//!   SHA-256 challenge goes into the URL.
//! - A redirect is believed only with exactly one `state` equal to this login's (compared in
//!   constant time); a wrong one ends the login without exchanging anything. The listener
//!   answers only `GET` with a loopback `Host` (no DNS rebinding), reads at most 16 KiB of
//!   request head, at most 16 connections at once, each with a 10 s timeout, and echoes
//!   nothing from a request into its pages; the pages forbid scripts, framing and referrers.
//! - Every endpoint must be `https://`, or `http://` to a loopback host.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorize;
mod client;
mod device;
mod endpoint;
mod error;
mod grant;
mod installed;
mod loopback;
mod pkce;
mod redirect;
mod revoke;

// The public interface is:
pub use authorize::Prompt;
pub use client::{
    ClientKind, GOOGLE_AUTH_URI, GOOGLE_DEVICE_AUTHORIZATION_URI, GOOGLE_REVOKE_URI,
    GOOGLE_TOKEN_URI, MAX_CLIENT_SECRETS_BYTES, OAuthClient,
};
pub use device::{
    DEFAULT_POLL_INTERVAL, DEVICE_CODE_GRANT_TYPE, DeviceAuthorization, DeviceFlow,
    MAX_POLL_INTERVAL,
};
pub use installed::{DEFAULT_LOGIN_TIMEOUT, DEFAULT_SCOPES, InstalledFlow, PendingLogin};
pub use pkce::{CODE_CHALLENGE_METHOD, PkceVerifier};
pub use revoke::{Revocation, Revoker, TokenKind};

/// Re-exported so users of this crate name the same core.
pub use credkit_core as core;

/// The parsers of untrusted input, for the fuzz targets in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use secrecy::ExposeSecret;
    use time::OffsetDateTime;

    /// The listener's judgement of a request head: `None` while incomplete, `Some(Ok(target))`
    /// for a GET from loopback, `Some(Err(()))` for a refusal.
    pub fn request_head(bytes: &[u8]) -> Option<Result<String, ()>> {
        crate::loopback::parse_head(bytes).map(|request| match request {
            crate::loopback::Request::Get(target) => Ok(target),
            crate::loopback::Request::Refused => Err(()),
        })
    }

    /// The judgement of a redirect's target: `Ok(None)` for another path, `Ok(Some(code))`,
    /// or the error's message, its OAuth error and the page's status.
    pub fn redirect(
        target: &str,
        path: &str,
        state: &str,
    ) -> Result<Option<String>, (String, Option<String>, u16)> {
        match crate::redirect::judge(target, path, state) {
            crate::redirect::Outcome::Elsewhere => Ok(None),
            crate::redirect::Outcome::Code(code) => Ok(Some(code.expose_secret().to_owned())),
            crate::redirect::Outcome::Failed(err, page) => Err((
                err.to_string(),
                err.oauth_error().map(str::to_owned),
                page.parts().0,
            )),
        }
    }

    /// The device authorization answer: the user code, the URI, the interval in seconds and
    /// the expiry, or the error's message.
    pub fn device_answer(
        body: &[u8],
        sent_at: OffsetDateTime,
    ) -> Result<(String, String, u64, OffsetDateTime), String> {
        crate::device::Answer::parse(body, sent_at)
            .map(|a| {
                (
                    a.user_code,
                    a.verification_uri,
                    a.interval.as_secs(),
                    a.expires_at,
                )
            })
            .map_err(|err| err.to_string())
    }
}
