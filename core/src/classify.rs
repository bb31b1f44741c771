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

/// Whether a token endpoint's JSON error body asks to be retried, by the reference library's
/// rule: the body is an object, its `error` and `error_description` are each absent, a "falsy"
/// JSON value (`null`, `false`, `0`, `""`, `[]`, `{}`) or a string, and one of them is exactly a
/// transient code (see [`is_transient_oauth_code`]). Any other member value (a non-empty object,
/// a number, `true`) makes the body permanent, and so does a body that is not an object.
///
/// ```
/// use credkit_core::classify::is_transient_oauth_body;
/// use serde_json::json;
///
/// assert!(is_transient_oauth_body(&json!({"error_description": "internal_failure"})));
/// assert!(is_transient_oauth_body(&json!({"error": "server_error", "error_description": null})));
/// assert!(!is_transient_oauth_body(&json!({"error": "server_error", "error_description": {"a": 1}})));
/// assert!(!is_transient_oauth_body(&json!({"error": {"foo": "bar"}})));
/// assert!(!is_transient_oauth_body(&json!(["server_error"])));
/// ```
pub fn is_transient_oauth_body(body: &serde_json::Value) -> bool {
    let Some(object) = body.as_object() else {
        return false;
    };
    // Python's `data.get(key) or ""`, then "not a str: not retryable".
    let member = |key: &str| -> Option<&str> {
        match object.get(key) {
            None | Some(serde_json::Value::Null | serde_json::Value::Bool(false)) => Some(""),
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) if n.as_f64() == Some(0.0) => Some(""),
            Some(serde_json::Value::Array(a)) if a.is_empty() => Some(""),
            Some(serde_json::Value::Object(o)) if o.is_empty() => Some(""),
            Some(_) => None,
        }
    };
    match (member("error_description"), member("error")) {
        (Some(description), Some(error)) => {
            is_transient_oauth_code(description) || is_transient_oauth_code(error)
        }
        _ => false,
    }
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

    // The reference's `test__can_retry_message` and `test__can_retry_no_retry_message`, with the
    // member values its `_can_retry` treats as "not a string".
    #[test]
    fn error_bodies_follow_the_reference_rule() {
        use serde_json::json;
        for body in [
            json!({"error": "internal_failure"}),
            json!({"error": "server_error"}),
            json!({"error_description": "internal_failure"}),
            json!({"error_description": "temporarily_unavailable", "error": 0}),
            json!({"error": "server_error", "error_description": false}),
            json!({"error": "server_error", "error_description": []}),
        ] {
            assert!(is_transient_oauth_body(&body), "{body}");
        }
        for body in [
            json!({"error": "invalid_scope"}),
            json!({"error": {"foo": "bar"}}),
            json!({"error_description": ["foo", "bar"]}),
            json!({"error": "server_error", "error_description": 1}),
            json!({"error": "server_error", "error_description": true}),
            json!({"error": "server_error x"}),
            json!("server_error"),
            json!(null),
        ] {
            assert!(!is_transient_oauth_body(&body), "{body}");
        }
    }
}
