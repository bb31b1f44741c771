//! The errors `Credentials` makes itself, one constructor each. None carries a secret.

use std::time::Duration;

use crate::{Error, ErrorKind};

/// The token source panicked while fetching.
pub(super) fn source_panicked() -> Error {
    Error::new(
        ErrorKind::Provider,
        "the token source panicked during a refresh",
    )
}

/// The storage panicked while `doing` ("loading", "storing") the record.
pub(super) fn storage_panicked(doing: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("the credential storage panicked while {doing} the record"),
    )
}

/// The source returned a token whose expiry had already passed, by `late`.
pub(super) fn expired_on_arrival(late: time::Duration) -> Error {
    let seconds = late.whole_seconds().max(0);
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "the token expired {seconds} s before it was received: check the clocks of this machine and of the token's issuer"
        ),
    )
}

/// Storing the record took longer than the new token lived. Transient: the next refresh gets
/// another token.
pub(super) fn expired_while_storing() -> Error {
    Error::new(
        ErrorKind::Storage,
        "the new access token expired while the credential record was being stored; the storage is too slow for the token's lifetime",
    )
    .with_transient(true)
}

/// A refresh did not finish within the flight deadline. Transient: the next call starts a new
/// refresh.
pub(super) fn flight_timed_out(deadline: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "refreshing the access token did not finish within {} s (the flight deadline); the next call tries again",
            deadline.as_secs()
        ),
    )
    .with_transient(true)
}

/// No usable token is cached and the caller cannot wait for one.
pub(super) fn nothing_usable(expired: bool) -> Error {
    let message = if expired {
        "the cached access token has expired; refresh it first (before_request, headers or refresh)"
    } else {
        "no access token is cached yet; fetch one first (before_request, headers or refresh)"
    };
    Error::new(ErrorKind::Configuration, message)
}

/// The token source panicked while taking in a record read from storage.
pub(super) fn adopt_panicked() -> Error {
    Error::new(
        ErrorKind::Provider,
        "the token source panicked while taking in the stored credential record; it was skipped",
    )
}

/// A refresh was replaced by a newer one before it sent its grant (its deadline passed by the
/// wall clock while its callers still waited). Transient: the newer refresh goes on.
pub(super) fn superseded() -> Error {
    Error::new(
        ErrorKind::Timeout,
        "this refresh passed its deadline and a newer one replaced it before it sent its grant; the next call joins the newer one",
    )
    .with_transient(true)
}
