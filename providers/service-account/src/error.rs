//! The errors of this crate, one constructor each. Texts the reference library has are kept
//! verbatim; none ever carries the private key, an assertion or a token.

use credkit_core::{BuildError, Error, ErrorKind};

// ===== service_account info =====

/// The info is not a JSON object.
pub(crate) fn info_not_an_object() -> BuildError {
    BuildError::parsing(
        "Service account info was not in the expected format: it is not a JSON object.",
    )
}

/// The info is not JSON at all. Only the position is named: serde's message may quote the key.
pub(crate) fn info_not_json(source: &serde_json::Error) -> BuildError {
    BuildError::parsing(format!(
        "Service account info is not valid JSON. (line {}, column {})",
        source.line(),
        source.column()
    ))
}

/// The info names another credential type; `shown_type` already made printable.
pub(crate) fn info_unknown_type(shown_type: &str) -> BuildError {
    BuildError::unknown_type(format!(
        "The credentials are of type {shown_type}, not service_account; credkit-service-account loads service_account keys only."
    ))
}

/// Members the info must have are missing; `missing` in their fixed order (the reference names
/// them in a set's order, which varies from run to run).
pub(crate) fn info_missing_fields(missing: &[&str]) -> BuildError {
    BuildError::missing_fields(format!(
        "Service account info was not in the expected format, missing fields {}.",
        missing.join(", ")
    ))
}

/// The info has no `private_key` (the reference's text).
pub(crate) fn info_no_private_key() -> BuildError {
    BuildError::missing_fields("The private_key field was not found in the service account info.")
}

/// A member of the info has the wrong JSON type.
pub(crate) fn info_wrong_type(key: &str, expected: &str) -> BuildError {
    BuildError::invalid_value(format!(
        "Service account info was not in the expected format: {key} must be {expected}."
    ))
}

/// The private key is not a PEM private key at all; `what` says why, never quoting it.
pub(crate) fn key_not_pem(what: &str) -> BuildError {
    BuildError::invalid_value(format!(
        "The service account's private_key could not be read: {what}. It must be the PEM \"-----BEGIN PRIVATE KEY-----\" block of the key file, unchanged."
    ))
}

/// The private key is PEM, but not an RSA key this crate signs with.
pub(crate) fn key_not_rsa(found: &str) -> BuildError {
    BuildError::invalid_value(format!(
        "The service account's private_key is {found}, not an RSA private key; service account keys are RSA keys (PKCS#8 or PKCS#1)."
    ))
}

/// aws-lc-rs refused the RSA key (too small, inconsistent); `reason` is its short description.
pub(crate) fn key_rejected(reason: &str) -> BuildError {
    BuildError::invalid_value(format!(
        "The service account's private_key is not an acceptable RSA key ({reason}); RSA keys of 2048 to 8192 bits are."
    ))
}

// ===== building =====

/// `always_use_jwt_access` turned off outside the default universe (the reference's text).
pub(crate) fn jwt_access_required() -> BuildError {
    BuildError::invalid_value(
        "always_use_jwt_access should be True for non-default universe domain",
    )
}

/// A setting is empty where a value is needed.
pub(crate) fn empty(what: &str) -> BuildError {
    BuildError::invalid_value(format!("the {what} is empty"))
}

// ===== fetching =====

/// A grant without a transport to send it through.
pub(crate) fn no_transport() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "no transport to send the JWT-bearer grant through: give the credentials one with with_transport (credkit-reqwest's ReqwestTransport, for example)",
    )
}

/// The `token_uri` cannot be a request's URI.
pub(crate) fn invalid_token_uri(source: http::Error) -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the token_uri is not a valid URL; set a full https:// URL",
    )
    .with_source(source)
}

/// A subject outside the default universe (the reference's text).
pub(crate) fn delegation_outside_universe() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "domain wide delegation is not supported for non-default universe domain",
    )
}

/// An ID token outside the default universe, which the reference asks IAM for.
pub(crate) fn id_token_outside_universe(universe_domain: &str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "ID tokens outside the googleapis.com universe (here {universe_domain}) come from the IAM Credentials API's generateIdToken, which credkit does not support yet; impersonated credentials will add it"
        ),
    )
}

/// A 200 from the token endpoint without an `id_token` (the reference's text).
pub(crate) fn no_id_token() -> Error {
    Error::new(ErrorKind::InvalidResponse, "No ID token in response.")
}

/// The crypto library failed to sign with a key it had accepted.
pub(crate) fn signing_failed() -> Error {
    Error::internal("aws-lc-rs failed to sign with an RSA key it had accepted")
}

/// The claims could not be serialized (they always can).
pub(crate) fn claims_unserializable(source: serde_json::Error) -> Error {
    Error::internal("the JWT claims could not be serialized").with_source(source)
}
