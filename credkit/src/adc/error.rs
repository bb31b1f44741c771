//! The errors of ADC discovery, each made by one named constructor. Where the reference's
//! `google/auth/_default.py` has a message, it is kept verbatim; none carries a secret or the
//! content of a credentials file.

use credkit_core::{Error, ErrorKind};

/// The reference's text when Application Default Credentials are not found anywhere.
pub(crate) const NOT_FOUND: &str = "Your default credentials were not found. To set up Application Default Credentials, see https://cloud.google.com/docs/authentication/external/set-up-adc for more information.";

/// No credentials anywhere discovery looked; `looked` lists the places. Typed "not
/// configured", so a chain passes the turn and a lazily discovering source looks again.
pub(crate) fn not_found(looked: &[String]) -> Error {
    Error::not_configured(format!("{NOT_FOUND} Looked at: {}.", looked.join("; ")))
}

/// The file's `type` is not registered: the reference's message, with the registered types in
/// its tuple notation.
pub(crate) fn unknown_type(origin: &str, found: Option<&str>, registered: &[&str]) -> Error {
    let found = found.map_or_else(|| "None".to_owned(), ToOwned::to_owned);
    let valid = match registered {
        [one] => format!("('{one}',)"),
        _ => format!(
            "({})",
            registered
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Error::new(
        ErrorKind::Configuration,
        format!(
            "The file {origin} does not have a valid type. Type is {found}, expected one of {valid}."
        ),
    )
}

/// A registered loader refused the file's content.
pub(crate) fn load_failed(origin: &str, credential_type: &str, cause: Error) -> Error {
    // A not-configured refusal must not pass the turn: the file is there and broken.
    Error::new(
        ErrorKind::Configuration,
        format!(
            "Failed to load {} credentials from {origin}: {}",
            credential_type.replace('_', " "),
            cause.message()
        ),
    )
    .with_causes(vec![cause])
}

/// Nothing to send requests with: no transport given and the `reqwest` feature off.
#[cfg_attr(feature = "reqwest", allow(dead_code))]
pub(crate) fn no_transport() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "no transport to send token requests with: give one with Adc::with_transport, or enable credkit's `reqwest` feature",
    )
}

/// The credential found mints no ID tokens.
pub(crate) fn no_id_tokens(credential_type: &str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!("credentials of type {credential_type} cannot issue ID tokens"),
    )
}

/// No project ID anywhere: the reference's warning text, as an error.
pub(crate) fn no_project_id(looked: &[String]) -> Error {
    Error::not_configured(format!(
        "No project ID could be determined. Consider running `gcloud config set project` or setting the GOOGLE_CLOUD_PROJECT environment variable. Looked at: {}.",
        looked.join("; ")
    ))
}
