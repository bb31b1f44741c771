//! Every error the vault makes, as named constructors. Messages name the user (an application's
//! ID, not a secret) and what to do; never a token.

use credkit_core::oauth::OAuthError;
use credkit_core::{Error, ErrorKind};

use crate::Refusal;

/// The longest user ID the vault takes, in bytes.
pub(crate) const MAX_USER_ID: usize = 512;

/// Checks a user ID: 1 to 512 bytes, no control character.
pub(crate) fn check_user(user: &str) -> Result<(), Error> {
    if user.is_empty() || user.len() > MAX_USER_ID || user.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::Configuration,
            format!(
                "the user ID is not valid: give 1 to {MAX_USER_ID} bytes without control characters"
            ),
        )
        .with_source(Refusal::InvalidUserId));
    }
    Ok(())
}

/// The user's grant was revoked or expired.
pub(crate) fn consent_needed(user: &str) -> Error {
    Error::new(
        ErrorKind::TokenEndpoint,
        format!(
            "user {user:?} must consent again: the refresh token was revoked or expired \
             (invalid_grant); insert the new grant with Vault::insert"
        ),
    )
    .with_oauth(OAuthError::new("invalid_grant"))
    .with_transient(false)
    .with_source(Refusal::ConsentNeeded)
}

/// No record for the user.
pub(crate) fn unknown_user(user: &str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "no grant is stored for user {user:?}: insert one with Vault::insert after the user consents"
        ),
    )
    .with_source(Refusal::UnknownUser)
}

/// The stored grant is newer than the one inserted.
pub(crate) fn newer_grant(user: &str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "a newer grant is stored for user {user:?} than the one being inserted; \
             insert with Grant::replacing to overwrite it"
        ),
    )
    .with_source(Refusal::NewerGrant)
}

/// The grant to insert has no refresh token.
pub(crate) fn no_refresh_token() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the grant has no refresh token: ask for offline access (access_type=offline) when the user consents",
    )
}

/// A lease was needed to change the user's record and could not be had.
pub(crate) fn no_lease(user: &str, error: Error) -> Error {
    let transient = error.is_transient();
    Error::new(
        ErrorKind::Storage,
        format!("the lease on user {user:?}'s record could not be had; try again"),
    )
    .with_transient(transient)
    .with_source(error)
}

/// The storage cannot list its keys.
pub(crate) fn cannot_list() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the vault's storage cannot list its keys: build a Redis store with with_listing(), or use a store that lists (Postgres, memory)",
    )
}

/// A user's credentials could not be built.
pub(crate) fn build(source: credkit_core::BuildError) -> Error {
    Error::new(
        ErrorKind::Configuration,
        "a user's credentials could not be built from the vault's settings",
    )
    .with_source(source)
}

/// The storage panicked.
pub(crate) fn storage_panicked(doing: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("the storage panicked while {doing} a user's record (a bug in the storage)"),
    )
}

/// Runs a storage call, turning a panic into an error: a panicking storage must not leave a
/// user's load shared by many callers poisoned for good.
pub(crate) async fn guarded<T>(
    doing: &str,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(call)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(storage_panicked(doing)))
}
