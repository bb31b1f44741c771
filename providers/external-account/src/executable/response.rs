//! The executable's response, format version 1, checked in the reference's order: what it
//! raises on (malformed) stays an error wherever the response comes from; what it treats as a
//! refresh failure (an unsupported version or token type, a failure response, an expired
//! token) only sends a cached response back to the program.
//!
//! ```json
//! {"version": 1, "success": true, "token_type": "urn:ietf:params:oauth:token-type:jwt",
//!  "id_token": "eyJ...", "expiration_time": 1767225600}
//! {"version": 1, "success": false, "code": "401", "message": "Caller not authorized."}
//! ```

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use credkit_core::oauth::scrub;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};

use crate::identity_pool::MAX_SUBJECT_TOKEN_BYTES;

/// The newest response format understood.
const SUPPORTED_VERSION: u64 = 1;

/// The subject token types of an OIDC token.
const OIDC_TYPES: [&str; 2] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
];

/// The subject token type of a SAML assertion.
const SAML_TYPE: &str = "urn:ietf:params:oauth:token-type:saml2";

/// A usable response: the token, and whether it said when it expires.
pub(crate) struct Response {
    pub(crate) token: SecretString,
    /// Whether `expiration_time` was there (a cached response without one is not used).
    pub(crate) has_expiry: bool,
}

/// What is wrong with a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The reference raises at once (`MalformedError`, or a type error on a member of the wrong
    /// type): the response is broken wherever it comes from.
    Malformed(Cow<'static, str>),
    /// A failure response: its `code` and `message`, scrubbed.
    Unsuccessful {
        /// The `code`, scrubbed.
        code: String,
        /// The `message`, scrubbed.
        message: String,
    },
    /// The reference's `RefreshError`: an error from the program; a cached response in this
    /// state is passed over and the program run.
    Unusable(Cow<'static, str>),
}

impl Problem {
    /// The message: the reference's text where it has one.
    pub(crate) fn message(&self) -> Cow<'_, str> {
        match self {
            Self::Malformed(message) | Self::Unusable(message) => Cow::Borrowed(message),
            Self::Unsuccessful { code, message } => Cow::Owned(format!(
                "Executable returned unsuccessful response: code: {code}, message: {message}."
            )),
        }
    }
}

/// Which member holds the token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `id_token`.
    Oidc,
    /// `saml_response`.
    Saml,
}

impl Family {
    fn of(token_type: &str) -> Option<Self> {
        if OIDC_TYPES.contains(&token_type) {
            Some(Self::Oidc)
        } else if token_type == SAML_TYPE {
            Some(Self::Saml)
        } else {
            None
        }
    }

    fn member(self) -> &'static str {
        match self {
            Self::Oidc => "id_token",
            Self::Saml => "saml_response",
        }
    }
}

/// Checks `response` for credentials whose subject token type is `expected_type`, at `now`.
pub(crate) fn check(
    response: &Value,
    expected_type: &str,
    now: SystemTime,
) -> Result<Response, Problem> {
    let Value::Object(response) = response else {
        return Err(malformed("The executable response is not a JSON object."));
    };
    check_schema(response)?;
    match response.get("success") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Err(unsuccessful(response)),
        _ => {
            return Err(malformed(
                "The executable response's success is not true or false.",
            ));
        }
    }
    let has_expiry = match response.get("expiration_time") {
        None => false,
        Some(Value::Number(expiry)) => {
            if seconds(expiry) < unix_seconds(now) {
                return Err(Problem::Unusable(Cow::Borrowed(
                    "The token returned by the executable is expired.",
                )));
            }
            true
        }
        Some(_) => {
            return Err(malformed(
                "The executable response's expiration_time is not a number of seconds.",
            ));
        }
    };
    let token_type = match response.get("token_type") {
        None => {
            return Err(malformed(
                "The executable response is missing the token_type field.",
            ));
        }
        Some(Value::String(token_type)) => token_type,
        Some(_) => {
            return Err(malformed(
                "The executable response's token_type is not a string.",
            ));
        }
    };
    let Some(family) = Family::of(token_type) else {
        return Err(Problem::Unusable(Cow::Borrowed(
            "Executable returned unsupported token type.",
        )));
    };
    if Family::of(expected_type) != Some(family) {
        return Err(Problem::Unusable(Cow::Owned(format!(
            "The executable returned a token of type {}, which the credentials' subject_token_type {} does not accept.",
            scrub(token_type, &[]),
            scrub(expected_type, &[])
        ))));
    }
    let member = family.member();
    let token = match response.get(member) {
        None => {
            return Err(Problem::Malformed(Cow::Owned(format!(
                "The executable response is missing the {member} field."
            ))));
        }
        Some(Value::String(token)) => SecretString::from(token.as_str()),
        Some(_) => {
            return Err(Problem::Malformed(Cow::Owned(format!(
                "The executable response's {member} is not a string."
            ))));
        }
    };
    check_token(&token, member)?;
    Ok(Response { token, has_expiry })
}

/// [`check`], then `response` wiped (its strings zeroed).
pub(crate) fn check_wiped(
    mut response: Value,
    expected_type: &str,
    now: SystemTime,
) -> Result<Response, Problem> {
    let checked = check(&response, expected_type, now);
    credkit_core::oauth::zeroize_json(&mut response);
    checked
}

/// `version` and `success` are there, and the version is one this code reads.
fn check_schema(response: &Map<String, Value>) -> Result<(), Problem> {
    match response.get("version") {
        None => {
            return Err(malformed(
                "The executable response is missing the version field.",
            ));
        }
        Some(Value::Number(version)) => match version.as_u64() {
            None | Some(0) => return Err(not_a_version()),
            Some(SUPPORTED_VERSION) => {}
            // Only newer versions are left.
            Some(version) => {
                return Err(Problem::Unusable(Cow::Owned(format!(
                    "Executable returned unsupported version {version}."
                ))));
            }
        },
        Some(_) => return Err(not_a_version()),
    }
    if response.contains_key("success") {
        Ok(())
    } else {
        Err(malformed(
            "The executable response is missing the success field.",
        ))
    }
}

/// A failure response: its code and message (scrubbed of any token it also carries), or
/// malformed without them.
fn unsuccessful(response: &Map<String, Value>) -> Problem {
    let (Some(code), Some(message)) = (response.get("code"), response.get("message")) else {
        return malformed("Error code and message fields are required in the response.");
    };
    // A confused program may echo a token in its message: never shown.
    let secrets = tokens_in(response);
    let secrets: Vec<&SecretString> = secrets.iter().collect();
    let shown = |value: &Value| match value {
        Value::String(text) => scrub(text, &secrets),
        other => scrub(&other.to_string(), &secrets),
    };
    Problem::Unsuccessful {
        code: shown(code),
        message: shown(message),
    }
}

/// The tokens a response object carries, whatever else is wrong with it: what no message may
/// show.
pub(crate) fn tokens_in(response: &Map<String, Value>) -> Vec<SecretString> {
    ["id_token", "saml_response"]
        .iter()
        .filter_map(|member| response.get(*member).and_then(Value::as_str))
        .filter(|token| !token.is_empty())
        .map(SecretString::from)
        .collect()
}

/// The token is one the STS exchange can carry.
fn check_token(token: &SecretString, member: &str) -> Result<(), Problem> {
    let text = token.expose_secret();
    if text.is_empty() {
        return Err(Problem::Malformed(Cow::Owned(format!(
            "The executable response's {member} is empty."
        ))));
    }
    if text.len() > MAX_SUBJECT_TOKEN_BYTES {
        return Err(Problem::Malformed(Cow::Owned(format!(
            "The executable response's {member} is larger than {MAX_SUBJECT_TOKEN_BYTES} bytes: it is not a token."
        ))));
    }
    if text.chars().any(char::is_control) {
        return Err(Problem::Malformed(Cow::Owned(format!(
            "The executable response's {member} has control characters."
        ))));
    }
    Ok(())
}

fn malformed(message: &'static str) -> Problem {
    Problem::Malformed(Cow::Borrowed(message))
}

fn not_a_version() -> Problem {
    malformed("The executable response's version is not a positive whole number.")
}

/// A JSON number of seconds since the Unix epoch.
#[allow(clippy::cast_precision_loss)] // Whole seconds near now are exact in an f64.
fn seconds(number: &serde_json::Number) -> f64 {
    number
        .as_i64()
        .map(|n| n as f64)
        .or_else(|| number.as_f64())
        .unwrap_or(f64::INFINITY)
}

/// `now` in seconds since the Unix epoch, with its fraction.
fn unix_seconds(now: SystemTime) -> f64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// Whether Python would find `value` false: how the reference decides that the program printed
/// no response (`null`, `false`, `0`, `""`, `[]`, `{}`).
pub(crate) fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        // Exactly zero, as Python's `bool(0.0)`.
        #[allow(clippy::float_cmp)]
        Value::Number(n) => n.as_f64().is_some_and(|n| n == 0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}
