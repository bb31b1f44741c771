//! The one place that decides which failures are transient.
//!
//! Every [`Error`](crate::Error) constructor that knows an HTTP status, an OAuth error code or a
//! transport failure asks these functions, so a 503 is transient whichever crate saw it, and retry
//! layers need only [`Error::is_transient`](crate::Error::is_transient).

use crate::TransportFailure;

/// Whether an HTTP status from a token endpoint is worth retrying: 500, 503, 504, 408 and 429.
///
/// 502 is deliberately not transient, as in the reference library.
///
/// ```
/// use credkit_core::classify::is_transient_status;
///
/// assert!(is_transient_status(503));
/// assert!(!is_transient_status(502));
/// assert!(!is_transient_status(400));
/// ```
pub const fn is_transient_status(status: u16) -> bool {
    matches!(status, 500 | 503 | 504 | 408 | 429)
}

/// Whether an OAuth `error` (or `error_description`) value is exactly one of the transient codes
/// `internal_failure`, `server_error` and `temporarily_unavailable`. A substring does not count.
///
/// ```
/// use credkit_core::classify::is_transient_oauth_code;
///
/// assert!(is_transient_oauth_code("temporarily_unavailable"));
/// assert!(!is_transient_oauth_code("invalid_grant"));
/// assert!(!is_transient_oauth_code("server_error_x"));
/// ```
pub fn is_transient_oauth_code(code: &str) -> bool {
    matches!(
        code,
        "internal_failure" | "server_error" | "temporarily_unavailable"
    )
}

/// Whether a transport failure is worth retrying: connect, timeout and reset failures are.
///
/// ```
/// use credkit_core::{classify::is_transient_failure, TransportFailure};
///
/// assert!(is_transient_failure(TransportFailure::Reset));
/// assert!(!is_transient_failure(TransportFailure::BodyTooLarge));
/// ```
pub const fn is_transient_failure(failure: TransportFailure) -> bool {
    matches!(
        failure,
        TransportFailure::Connect | TransportFailure::Timeout | TransportFailure::Reset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_five_statuses_are_transient() {
        for status in 100..=599 {
            let expected = [500, 503, 504, 408, 429].contains(&status);
            assert_eq!(is_transient_status(status), expected, "status {status}");
        }
    }

    #[test]
    fn oauth_codes_match_exactly() {
        for code in [
            "internal_failure",
            "server_error",
            "temporarily_unavailable",
        ] {
            assert!(is_transient_oauth_code(code));
            assert!(!is_transient_oauth_code(&code.to_uppercase()));
            assert!(!is_transient_oauth_code(&format!(" {code}")));
        }
        for code in ["invalid_grant", "invalid_scope", "invalid_client", ""] {
            assert!(!is_transient_oauth_code(code));
        }
    }
}
