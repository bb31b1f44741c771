//! Why a token was rejected: [`VerifyError`], one variant per reason.
//!
//! No message ever carries the token, a segment of it or its signature. Strings the token's
//! author chose (`kid`, `alg`, `iss`, `aud`, `hd`) are echoed only after [`sanitize`]: at most
//! [`ECHO_LIMIT`] characters, control characters replaced, so a hostile token cannot forge log
//! lines or flood them.

use credkit_core::ErrorKind;

/// How many characters of a string taken from a token an error message repeats.
pub(crate) const ECHO_LIMIT: usize = 64;

/// Why [`IdTokenVerifier::verify`](crate::IdTokenVerifier::verify) rejected a token.
///
/// Every variant's message is one line that says why, and never contains the token or its
/// signature. Values taken from the token (`alg`, `kid`, `iss`, `aud`, `hd`) are truncated to
/// 64 characters and stripped of control characters.
///
/// ```
/// use credkit_verifier::VerifyError;
///
/// let err = VerifyError::Expired { exp: 1_700_000_000, now: 1_700_000_100 };
/// assert_eq!(
///     err.to_string(),
///     "the ID token expired at 1700000000 (now is 1700000100, beyond the allowed clock skew)"
/// );
/// assert_eq!(credkit_core::Error::from(err).kind(), credkit_core::ErrorKind::InvalidResponse);
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than the verifier accepts; it was not parsed.
    #[error("the ID token is {len} bytes long, more than the {max} bytes accepted")]
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token is not a well-formed signed JWT.
    #[error("the ID token is malformed: {reason}")]
    Malformed {
        /// What is wrong (segments, base64, JSON, a claim of the wrong type).
        reason: &'static str,
    },
    /// The header's `alg` is not one of the verifier's allowed algorithms (this includes `none`
    /// and the HMAC algorithms, never accepted).
    #[error("the ID token's algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` of the header (sanitized).
        alg: String,
    },
    /// No key has the token's `kid`, even after a refresh of the keys (when one was allowed).
    #[error("no key matches the ID token's key ID {kid:?}")]
    UnknownKey {
        /// The `kid` of the header (sanitized).
        kid: String,
    },
    /// The key named by the token's `kid` is of another family than its `alg` (an RSA key for
    /// `ES256`, say), or is restricted to another algorithm.
    #[error("the key {kid:?} cannot verify {alg} signatures")]
    KeyMismatch {
        /// The `kid` of the header (sanitized).
        kid: String,
        /// The `alg` of the header.
        alg: &'static str,
    },
    /// The signature does not verify with the key.
    #[error("the ID token's signature is not valid")]
    BadSignature,
    /// The `iss` claim is not one of the accepted issuers.
    #[error("the ID token's issuer {iss:?} is not accepted")]
    WrongIssuer {
        /// The token's `iss` (sanitized).
        iss: String,
    },
    /// The `aud` claim names none of the accepted audiences.
    #[error("the ID token's audience {aud:?} is not accepted")]
    WrongAudience {
        /// The token's `aud` (sanitized; several audiences are joined by commas).
        aud: String,
    },
    /// The token's `exp` is in the past, beyond the clock skew.
    #[error("the ID token expired at {exp} (now is {now}, beyond the allowed clock skew)")]
    Expired {
        /// The token's `exp`, in seconds since the Unix epoch.
        exp: i64,
        /// The verifier's clock, in seconds since the Unix epoch.
        now: i64,
    },
    /// The token's `iat` (or `nbf`) is in the future, beyond the clock skew: the token is used
    /// too early.
    #[error(
        "the ID token is not valid before {not_before} (now is {now}, beyond the allowed clock skew)"
    )]
    NotYetValid {
        /// The token's `iat` or `nbf`, whichever is later, in seconds since the Unix epoch.
        not_before: i64,
        /// The verifier's clock, in seconds since the Unix epoch.
        now: i64,
    },
    /// A required claim is missing.
    #[error("the ID token has no {claim} claim")]
    MissingClaim {
        /// The claim's name (`exp`, `iat`, `iss`, `aud`, `sub`, `email`).
        claim: &'static str,
    },
    /// The `hd` (hosted domain) claim is not the required one, or is missing.
    #[error("the ID token's hosted domain {hd:?} is not the required one")]
    WrongHostedDomain {
        /// The token's `hd` (sanitized), empty when absent.
        hd: String,
    },
    /// `email_verified` is required but the claim is missing or not `true`.
    #[error("the ID token's email address is not verified")]
    EmailNotVerified,
    /// The keys could not be fetched, and no earlier keys were at hand.
    #[error("the keys to verify the ID token could not be fetched: {0}")]
    KeyFetch(#[source] credkit_core::Error),
}

impl VerifyError {
    pub(crate) const fn malformed(reason: &'static str) -> Self {
        Self::Malformed { reason }
    }
}

/// A rejected token becomes an [`ErrorKind::InvalidResponse`]: what was presented is not a
/// valid ID token. A key fetch failure stays the transport or response error it was.
impl From<VerifyError> for credkit_core::Error {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::KeyFetch(inner) => inner,
            other => Self::new(ErrorKind::InvalidResponse, other.to_string()).with_source(other),
        }
    }
}

/// `value` as an error message may repeat it: at most [`ECHO_LIMIT`] characters (then `…`),
/// each control character replaced by `?`.
pub(crate) fn sanitize(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(ECHO_LIMIT + 3));
    for (i, c) in value.chars().enumerate() {
        if i == ECHO_LIMIT {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// Several audiences as one sanitized string.
pub(crate) fn sanitize_list(values: &[String]) -> String {
    let mut joined = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            joined.push(',');
        }
        joined.push_str(value);
    }
    sanitize(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_truncates_and_strips_control_characters() {
        assert_eq!(sanitize("a\nb\u{1b}[31m"), "a?b?[31m");
        let long = "x".repeat(100);
        let cut = sanitize(&long);
        assert_eq!(cut, format!("{}…", "x".repeat(ECHO_LIMIT)));
        assert_eq!(sanitize(&"y".repeat(ECHO_LIMIT)), "y".repeat(ECHO_LIMIT));
    }

    #[test]
    fn lists_are_joined_then_sanitized() {
        assert_eq!(sanitize_list(&["a".into(), "b\n".into()]), "a,b?");
        assert_eq!(sanitize_list(&[]), "");
        let many: Vec<String> = (0..40).map(|i| format!("aud-{i}")).collect();
        assert!(sanitize_list(&many).ends_with('…'));
    }

    #[test]
    fn conversion_keeps_key_fetch_errors_and_classifies_the_rest() {
        let fetch = credkit_core::Error::new(ErrorKind::Transport, "down").with_transient(true);
        let err = credkit_core::Error::from(VerifyError::KeyFetch(fetch));
        assert_eq!(err.kind(), ErrorKind::Transport);
        assert!(err.is_transient());
        let err = credkit_core::Error::from(VerifyError::BadSignature);
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert_eq!(err.message(), "the ID token's signature is not valid");
        assert!(!err.is_transient());
    }
}
