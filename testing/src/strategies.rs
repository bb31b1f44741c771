//! proptest strategies for tokens, expiries and scope lists.

use std::time::Duration;

use credkit_core::AccessToken;
use proptest::prelude::*;
use time::OffsetDateTime;

use crate::FAKE_CLOCK_START;

/// The prefix every generated secret starts with, distinctive enough that finding it in a
/// `Debug` or error string means the secret leaked.
pub const SECRET_PREFIX: &str = "credkit-secret-";

/// Secrets of 16 to 64 URL-safe characters behind [`SECRET_PREFIX`].
///
/// ```
/// use proptest::prelude::*;
/// use credkit_testing::strategies::{secret, SECRET_PREFIX};
///
/// proptest!(|(s in secret())| {
///     prop_assert!(s.starts_with(SECRET_PREFIX));
/// });
/// ```
pub fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{16,64}".prop_map(|tail| format!("{SECRET_PREFIX}{tail}"))
}

/// Expiries from an hour before to a day after [`FAKE_CLOCK_START`], to the second.
pub fn expiry() -> impl Strategy<Value = OffsetDateTime> {
    (-3600_i64..86_400).prop_map(|secs| FAKE_CLOCK_START + time::Duration::seconds(secs))
}

/// Token lifetimes from 1 second to 2 hours.
pub fn lifetime() -> impl Strategy<Value = Duration> {
    (1_u64..7200).prop_map(Duration::from_secs)
}

/// OAuth scopes: URL-like or short names, never empty or containing whitespace.
pub fn scope() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,12}",
        "[a-z.]{1,20}".prop_map(|s| format!("https://www.googleapis.com/auth/{s}")),
    ]
}

/// Lists of 0 to 5 scopes.
pub fn scope_list() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(scope(), 0..=5)
}

/// Access tokens with a secret from [`secret`], maybe an expiry (and issue time), maybe granted
/// scopes, maybe an ID token.
pub fn access_token() -> impl Strategy<Value = AccessToken> {
    (
        secret(),
        proptest::option::of((expiry(), lifetime())),
        proptest::option::of(scope_list()),
        proptest::option::of(secret()),
    )
        .prop_map(|(secret, expiry, scopes, id_token)| {
            let mut token = AccessToken::new(secret);
            if let Some((expiry, lifetime)) = expiry {
                let issued = expiry - time::Duration::try_from(lifetime).unwrap_or_default();
                token = token.with_expiry(expiry).with_issued_at(issued);
            }
            if let Some(scopes) = scopes {
                token = token.with_granted_scopes(scopes);
            }
            if let Some(id_token) = id_token {
                token = token.with_id_token(id_token.into());
            }
            token
        })
}
