//! The errors of this crate, each made by one named constructor. None carries a secret, a code,
//! or text from a request anyone could have sent, unscrubbed; each says what to do.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use credkit_core::oauth::OAuthError;
use credkit_core::{BuildError, Error, ErrorKind};

// ===== the client =====

/// A `client_secret.json` over the size limit.
pub(crate) fn client_secrets_too_large() -> BuildError {
    BuildError::parsing(format!(
        "the client secrets file is larger than {} bytes: it is not a client_secret.json; download the OAuth client's JSON again from the Cloud console",
        crate::client::MAX_CLIENT_SECRETS_BYTES
    ))
}

/// A `client_secret.json` that is not JSON, or whose members have the wrong types.
pub(crate) fn client_secrets_not_json(wrong_types: bool) -> BuildError {
    BuildError::parsing(if wrong_types {
        "the client secrets file has a member of the wrong type: it should be {\"installed\": {...}} or {\"web\": {...}} with string client_id, client_secret, auth_uri and token_uri, as the Cloud console downloads it"
    } else {
        "the client secrets file is not JSON: give the client_secret.json the Cloud console downloads for an OAuth client ID"
    })
}

/// A `client_secret.json` with both kinds of client.
pub(crate) fn client_secrets_both_kinds() -> BuildError {
    BuildError::parsing(
        "the client secrets file holds both an \"installed\" and a \"web\" client: keep the one to sign in with",
    )
}

/// A `client_secret.json` with neither kind of client.
pub(crate) fn client_secrets_no_kind() -> BuildError {
    BuildError::parsing(
        "the client secrets file holds no \"installed\" or \"web\" client: create an OAuth client ID of type \"Desktop app\" in the Cloud console and download its JSON",
    )
}

/// A `client_secret.json` that cannot be read.
pub(crate) fn client_secrets_unreadable(path: &Path, err: &io::Error) -> BuildError {
    BuildError::loading(format!(
        "cannot read the client secrets file {}: {}",
        path.display(),
        describe_io(err)
    ))
}

/// An endpoint that is not `https://` (or `http://` to loopback).
pub(crate) fn bad_endpoint(what: &'static str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "the {what} is not an https:// URL (plain http:// is allowed only to a loopback host such as 127.0.0.1): fix the client's {what} URI"
        ),
    )
}

/// A login that asks for no scope.
pub(crate) fn no_scopes() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "a login needs at least one scope to ask for: give some, or leave the default (openid, userinfo.email, cloud-platform)",
    )
}

/// A web client without a loopback redirect URI to listen on.
pub(crate) fn web_client_without_loopback() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "this is a \"web\" OAuth client, which Google redirects only to its registered URIs, and none of them is a loopback URI with a port (such as http://localhost:8085/): register one in the Cloud console, or use a \"Desktop app\" client",
    )
}

// ===== the redirect =====

/// The listening socket cannot be made.
pub(crate) fn cannot_listen(addr: SocketAddr, err: &io::Error) -> Error {
    let message = if err.kind() == io::ErrorKind::AddrInUse {
        format!(
            "cannot listen for the sign-in redirect on {addr}: the port is in use by another program; choose another port, or none to take a free one"
        )
    } else {
        format!(
            "cannot listen for the sign-in redirect on {addr}: {}",
            describe_io(err)
        )
    };
    Error::new(ErrorKind::Configuration, message)
}

/// The redirect's `state` is not this login's (or is missing, or repeated).
pub(crate) fn wrong_state(count: usize) -> Error {
    let what = match count {
        0 => "no state",
        1 => "a state that is not this login's",
        _ => "more than one state",
    };
    Error::new(
        ErrorKind::Provider,
        format!(
            "the sign-in redirect carried {what} (an old browser tab, or a request this login did not make), so its answer was refused and nothing was exchanged: run the login again"
        ),
    )
}

/// The authorization server redirected with an error (the user denied consent, say).
pub(crate) fn refused(oauth: OAuthError) -> Error {
    let message = match oauth.description() {
        Some(description) => format!(
            "the authorization server refused the sign-in: {}: {description}",
            oauth.error()
        ),
        None => format!(
            "the authorization server refused the sign-in: {}",
            oauth.error()
        ),
    };
    Error::new(ErrorKind::Provider, message).with_oauth(oauth)
}

/// The redirect carries no single usable code.
pub(crate) fn malformed_redirect(what: &'static str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "the sign-in redirect carried {what}, so nothing was exchanged: run the login again"
        ),
    )
}

/// Nobody came back in time.
pub(crate) fn timed_out(wait: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "nobody completed the sign-in within {} s: run the login again and open the URL it prints",
            wait.as_secs()
        ),
    )
    .with_transient(false)
}

/// The listener ended without an answer (it could not run).
pub(crate) fn listener_gone() -> Error {
    Error::new(
        ErrorKind::Internal,
        "the sign-in listener stopped without an answer: run the login again",
    )
}

// ===== the answer =====

/// The token endpoint issued no refresh token.
pub(crate) fn no_refresh_token() -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        "the token endpoint issued no refresh token, so the credentials would stop working within the hour: sign in again with the consent prompt (Prompt::Consent; credkit login --prompt consent)",
    )
}

/// The answer's values make no usable credentials.
pub(crate) fn unusable_answer(err: BuildError) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        "the token endpoint's answer makes no usable credentials",
    )
    .with_source(err)
}

// ===== the device flow =====

/// The device authorization endpoint answered something that is not a device authorization.
pub(crate) fn bad_device_answer(what: &'static str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!("the device authorization endpoint's answer {what}"),
    )
}

/// The device code expired before the user approved it.
pub(crate) fn device_code_expired(last: Option<Error>) -> Error {
    let err = Error::new(
        ErrorKind::Timeout,
        "the device code expired before the sign-in was approved: run the login again and enter the new code",
    )
    .with_transient(false);
    match last {
        Some(last) => err.with_causes(vec![last]),
        None => err,
    }
}

/// The user refused the device sign-in on the verification page.
pub(crate) fn device_refused(cause: &Error) -> Error {
    let oauth = cause
        .oauth()
        .cloned()
        .unwrap_or_else(|| OAuthError::new("access_denied"));
    let mut err = refused(oauth);
    if let Some(status) = cause.http_status() {
        err = err.with_http_status(status);
    }
    err
}

fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => err.kind().to_string(),
    }
}
