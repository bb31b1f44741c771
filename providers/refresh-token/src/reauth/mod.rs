//! Reauthentication: what a refresh does when the token endpoint asks the user to prove
//! themselves again.
//!
//! Today only the mapping lives here: an `invalid_grant` error with the subtype `invalid_rapt`
//! or `rapt_required` becomes the reference's "Reauthentication is needed..." error. The
//! interactive challenge flow (`enable_reauth_refresh`) will join it in this folder.

use credkit_core::Error;

use crate::error;

/// Turns `invalid_grant` with the subtype `invalid_rapt` or `rapt_required` into the reference's
/// "Reauthentication is needed..." error (kind `ReauthRequired`, permanent, keeping the status
/// and the OAuth fields); any other error passes unchanged.
pub(crate) fn map_reauth_needed(err: Error) -> Error {
    if is_reauth_challenge(&err) {
        error::reauth_needed(&err)
    } else {
        err
    }
}

/// Whether the token endpoint's error asks for reauthentication.
fn is_reauth_challenge(err: &Error) -> bool {
    err.oauth_error() == Some("invalid_grant")
        && matches!(err.error_subtype(), Some("invalid_rapt" | "rapt_required"))
}

#[cfg(test)]
mod tests {
    use credkit_core::{ErrorKind, OAuthError};

    use super::*;

    #[test]
    fn rapt_subtypes_map_and_others_pass() {
        for subtype in ["invalid_rapt", "rapt_required"] {
            let err =
                Error::token_endpoint(400, OAuthError::new("invalid_grant").with_subtype(subtype));
            let mapped = map_reauth_needed(err);
            assert_eq!(mapped.kind(), ErrorKind::ReauthRequired);
            assert_eq!(mapped.http_status(), Some(400));
            assert_eq!(mapped.error_subtype(), Some(subtype));
            assert!(!mapped.is_transient());
            assert!(
                mapped
                    .to_string()
                    .starts_with("Reauthentication is needed.")
            );
        }
        let other = Error::token_endpoint(400, OAuthError::new("invalid_grant"));
        assert_eq!(map_reauth_needed(other).kind(), ErrorKind::TokenEndpoint);
    }
}
