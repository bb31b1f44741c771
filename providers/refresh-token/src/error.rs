//! The errors of this crate, each made by one named constructor. Where the reference library has
//! a message, it is kept verbatim (its grammar included); none carries a secret or the content of
//! a credentials file.

use credkit_core::{BuildError, Error, ErrorKind};

/// The reference's text when a refresh lacks a field (its grammar kept).
const MISSING_FIELDS: &str = "The credentials do not contain the necessary fields need to refresh the access token. You must specify refresh_token, token_uri, client_id, and client_secret.";

/// The reference's text when the endpoint asks for reauthentication.
const REAUTH_NEEDED: &str = "Reauthentication is needed. Please run `gcloud auth application-default login` to reauthenticate.";

// ===== refresh =====

/// A refresh without a refresh token, token endpoint, client ID or client secret.
pub(crate) fn missing_refresh_fields() -> Error {
    Error::new(ErrorKind::Configuration, MISSING_FIELDS)
}

/// A refresh outside the default universe domain.
pub(crate) fn universe_not_supported(universe_domain: &str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "User credential refresh is only supported in the default googleapis.com universe domain, but the current universe domain is {universe_domain}. If you created the credential with an access token, it's likely that the provided token is expired now, please update your code with a valid token."
        ),
    )
}

/// A refresh without a transport to send it through.
pub(crate) fn no_transport() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "no transport to send the refresh through: give UserCredentials one with UserCredentialsBuilder::with_transport (credkit-reqwest's ReqwestTransport, for example)",
    )
}

/// A refresh handler sent a request, but the credentials have no transport.
pub(crate) fn handler_without_transport() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the refresh handler tried to send a request, but the credentials have no transport: give UserCredentials one with UserCredentialsBuilder::with_transport",
    )
}

/// The token endpoint cannot be made into a request URL.
pub(crate) fn invalid_token_uri(source: http::Error) -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the token_uri is not a valid URL; set a full https:// URL",
    )
    .with_source(source)
}

/// The endpoint asked for reauthentication: permanent, with the status and OAuth fields of
/// `cause` kept.
pub(crate) fn reauth_needed(cause: &Error) -> Error {
    let mut err = Error::new(ErrorKind::ReauthRequired, REAUTH_NEEDED).with_transient(false);
    if let Some(status) = cause.http_status() {
        err = err.with_http_status(status);
    }
    match cause.oauth() {
        Some(oauth) => err.with_oauth(oauth.clone()),
        None => err,
    }
}

// ===== the reauth flow =====

/// The prefix of every error of the reauth flow, as the reference's `ReauthFailError`.
const REAUTH_FAILED: &str = "Reauthentication failed. ";

/// A failed reauthentication: kind `ReauthRequired` (the user still has to reauthenticate),
/// permanent, `message` after the reference's prefix.
fn reauth_failed(message: &str) -> Error {
    Error::new(
        ErrorKind::ReauthRequired,
        format!("{REAUTH_FAILED}{message}"),
    )
    .with_transient(false)
}

/// A challenge type nobody here answers; `challenge_type` scrubbed by the caller.
pub(crate) fn reauth_unsupported(challenge_type: &str, supported: &[&str]) -> Error {
    reauth_failed(&format!(
        "Unsupported challenge type {challenge_type}. Supported types: {}",
        supported.join(",")
    ))
}

/// A handler that cannot answer on this machine.
pub(crate) fn reauth_not_eligible(challenge_type: &str) -> Error {
    reauth_failed(&format!(
        "Challenge {challenge_type} is not locally eligible"
    ))
}

/// The API answered a status the flow cannot continue from; `status` scrubbed by the caller.
pub(crate) fn reauth_api_status(status: &str) -> Error {
    reauth_failed(&format!(
        "Reauthentication challenge failed due to API error: {status}"
    ))
}

/// No rapt token came: no challenge ready, no answer, no token in the answer, or the rounds ran
/// out.
pub(crate) fn reauth_no_rapt() -> Error {
    reauth_failed("Failed to obtain rapt token.")
}

/// A challenge needs an answer, and nobody can give one.
pub(crate) fn reauth_not_interactive() -> Error {
    reauth_failed(
        "Reauthentication challenge could not be answered because you are not in an interactive session.",
    )
}

/// A SAML challenge, which only a browser can answer.
pub(crate) fn reauth_saml() -> Error {
    reauth_failed("Please run `gcloud auth login` to complete reauthentication with SAML.")
}

/// A security-key challenge, and no handler plugged in for it.
pub(crate) fn reauth_security_key_unsupported() -> Error {
    reauth_failed(
        "Security key challenges need a handler: plug one in with UserCredentialsBuilder::with_reauth_challenge(\"SECURITY_KEY\", ...), for example one that talks to a WebAuthn plugin, or run `gcloud auth login`.",
    )
}

/// The reauth API answered 200 with something that is not a session message.
pub(crate) fn reauth_not_a_message() -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        "Reauthentication failed. The reauth API answered HTTP 200 with a body that is not a session message",
    )
    .with_transient(false)
}

/// The reauth-scoped access token cannot go into a header.
pub(crate) fn reauth_bad_access_token() -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        "Reauthentication failed. The token endpoint gave a reauth access token that cannot go into an HTTP header",
    )
    .with_transient(false)
}

// ===== authorized_user info =====

/// The info is not a JSON object.
pub(crate) fn info_not_an_object() -> BuildError {
    BuildError::parsing(
        "Authorized user info was not in the expected format: it is not a JSON object.",
    )
}

/// The info names another credential type.
pub(crate) fn info_unknown_type(shown_type: &str) -> BuildError {
    BuildError::unknown_type(format!(
        "The credentials are of type {shown_type}, not authorized_user; credkit-refresh-token loads authorized_user credentials only."
    ))
}

/// Members the info must have are missing; `missing` in their fixed order.
pub(crate) fn info_missing_fields(missing: &[&str]) -> BuildError {
    BuildError::missing_fields(format!(
        "Authorized user info was not in the expected format, missing fields {}.",
        missing.join(", ")
    ))
}

/// A member of the info has the wrong JSON type.
pub(crate) fn info_wrong_type(key: &str, expected: &str) -> BuildError {
    BuildError::invalid_value(format!(
        "Authorized user info was not in the expected format: {key} must be {expected}."
    ))
}

/// The info's `expiry` cannot be read.
pub(crate) fn info_bad_expiry() -> BuildError {
    BuildError::invalid_value(
        "Authorized user info has an expiry that is neither YYYY-MM-DDTHH:MM:SS[.ffffff]Z nor RFC 3339",
    )
}

/// The starting access token cannot go into an HTTP header.
pub(crate) fn unusable_token(cause: Error) -> BuildError {
    BuildError::invalid_value(cause.message().to_owned()).with_source(cause)
}

// ===== files =====
