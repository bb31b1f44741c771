//! kubectl's exec credential plugins (`client.authentication.k8s.io`).
//!
//! kubectl (and every client-go program) runs the `exec` command of a kubeconfig user, hands
//! it the request in the `KUBERNETES_EXEC_INFO` environment variable, and reads an
//! `ExecCredential` from its standard output: a bearer token and when it expires. kubectl
//! keeps the token until then, and runs the plugin again after, or on a 401.
//!
//! [`ExecInfo::from_env`] reads the request: the `apiVersion` to answer in (`v1`, or
//! `v1beta1` for kubectl before 1.22) and whether a person is there to answer a prompt
//! (`spec.interactive`). [`exec_credential`] writes the answer.
//!
//! ```
//! use credkit_helpers::kubectl::{ApiVersion, ExecInfo, exec_credential};
//! use secrecy::{ExposeSecret, SecretString};
//! use time::macros::datetime;
//!
//! let info = ExecInfo::from_env(Some(
//!     r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
//! ))?;
//! assert_eq!(info.api_version(), ApiVersion::V1);
//! assert!(!info.interactive());
//!
//! let token = SecretString::from("ya29.token");
//! let answer = exec_credential(&info, &token, Some(datetime!(2026-01-02 03:04:05 UTC)));
//! let json: serde_json::Value = serde_json::from_str(answer.expose_secret())?;
//! assert_eq!(json["apiVersion"], "client.authentication.k8s.io/v1");
//! assert_eq!(json["status"]["expirationTimestamp"], "2026-01-02T03:04:05Z");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without `KUBERNETES_EXEC_INFO` (kubectl always sets it; a person running the plugin by hand
//! does not) the answer is `v1beta1`, as `gke-gcloud-auth-plugin` always answers, and nothing is
//! interactive: a plugin must never wait on a prompt nobody sees.
//!
//! The plugin sends no token anywhere itself: kubectl sends it to the clusters whose users
//! name the plugin, so there is no host list here (a GKE control plane is an IP address no
//! Google host pattern could name).

use crate::shorten;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The environment variable kubectl hands its request in.
pub const EXEC_INFO_ENV: &str = "KUBERNETES_EXEC_INFO";

/// The most of `KUBERNETES_EXEC_INFO` read: with `provideClusterInfo` it carries the cluster's
/// CA certificates, a few kilobytes, never a megabyte.
pub const MAX_EXEC_INFO_LEN: usize = 1 << 20;

/// The kind of the request and of the answer.
const KIND: &str = "ExecCredential";

/// The API group of both versions.
const GROUP: &str = "client.authentication.k8s.io";

/// The `apiVersion` of the exec credential API an answer is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `client.authentication.k8s.io/v1`: kubectl 1.22 and later.
    V1,
    /// `client.authentication.k8s.io/v1beta1`: kubectl 1.11 and later.
    V1Beta1,
}

impl ApiVersion {
    /// The `apiVersion` text, such as `client.authentication.k8s.io/v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "client.authentication.k8s.io/v1",
            Self::V1Beta1 => "client.authentication.k8s.io/v1beta1",
        }
    }

    fn parse(text: &str) -> Result<Self, ExecInfoError> {
        match text {
            "client.authentication.k8s.io/v1" => Ok(Self::V1),
            "client.authentication.k8s.io/v1beta1" => Ok(Self::V1Beta1),
            "client.authentication.k8s.io/v1alpha1" => Err(ExecInfoError::new(Why::Alpha)),
            other => Err(ExecInfoError::new(Why::Unknown(shorten(other)))),
        }
    }
}

/// What kubectl asks: the version to answer in, and whether a person can answer a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecInfo {
    api_version: ApiVersion,
    interactive: bool,
}

/// The request as kubectl writes it; only what the answer depends on.
#[derive(Deserialize)]
struct Request {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    spec: Spec,
}

#[derive(Default, Deserialize)]
struct Spec {
    #[serde(default)]
    interactive: bool,
}

impl ExecInfo {
    /// The request when `KUBERNETES_EXEC_INFO` is not set: `v1beta1` (what
    /// `gke-gcloud-auth-plugin` always answers), not interactive.
    pub fn absent() -> Self {
        Self {
            api_version: ApiVersion::V1Beta1,
            interactive: false,
        }
    }

    /// The request in `value`, the content of `KUBERNETES_EXEC_INFO` (`None` when it is not
    /// set, which is [`ExecInfo::absent`], as an empty value is).
    ///
    /// # Errors
    ///
    /// The value is longer than [`MAX_EXEC_INFO_LEN`], is not a JSON object, names another
    /// kind than `ExecCredential`, has no `apiVersion`, or asks for a version other than `v1`
    /// and `v1beta1` (`v1alpha1` was removed in Kubernetes 1.24).
    pub fn from_env(value: Option<&str>) -> Result<Self, ExecInfoError> {
        // Empty is unset, as Go's os.Getenv (and so every Go plugin) reads it.
        let Some(text) = value.filter(|text| !text.trim().is_empty()) else {
            return Ok(Self::absent());
        };
        if text.len() > MAX_EXEC_INFO_LEN {
            return Err(ExecInfoError::new(Why::TooLarge));
        }
        let request: Request = serde_json::from_str(text)
            .map_err(|err| ExecInfoError::new(Why::NotJson(err.line(), err.column())))?;
        if let Some(kind) = request.kind.as_deref().filter(|kind| *kind != KIND) {
            return Err(ExecInfoError::new(Why::Kind(shorten(kind))));
        }
        let version = request
            .api_version
            .ok_or_else(|| ExecInfoError::new(Why::NoVersion))?;
        Ok(Self {
            api_version: ApiVersion::parse(&version)?,
            interactive: request.spec.interactive,
        })
    }

    /// The version to answer in.
    pub fn api_version(&self) -> ApiVersion {
        self.api_version
    }

    /// Whether a person is there to answer a prompt (`spec.interactive`); false when kubectl
    /// did not say.
    pub fn interactive(&self) -> bool {
        self.interactive
    }
}

/// The answer: an `ExecCredential` in the version asked, with `token` and, when known, its
/// `expiry` (RFC 3339 in UTC, to the second, rounded down). Without an expiry kubectl keeps
/// the token until a request is refused.
///
/// The document holds the token, so it is a secret: print it with `expose_secret()`.
pub fn exec_credential(
    info: &ExecInfo,
    token: &SecretString,
    expiry: Option<OffsetDateTime>,
) -> SecretString {
    let answer = Answer {
        api_version: info.api_version.as_str(),
        kind: KIND,
        status: Status {
            token: token.expose_secret(),
            expiration_timestamp: expiry.and_then(rfc3339),
        },
    };
    // Serializing strings into a String cannot fail; should it, the answer is an empty
    // object kubectl refuses, never a panic.
    SecretString::from(serde_json::to_string(&answer).unwrap_or_else(|_| "{}".to_owned()))
}

#[derive(Serialize)]
struct Answer<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    status: Status<'a>,
}

#[derive(Serialize)]
struct Status<'a> {
    token: &'a str,
    #[serde(
        rename = "expirationTimestamp",
        skip_serializing_if = "Option::is_none"
    )]
    expiration_timestamp: Option<String>,
}

/// `time` in RFC 3339, in UTC, to the second (rounded down).
pub(crate) fn rfc3339(time: OffsetDateTime) -> Option<String> {
    let time = time.to_offset(UtcOffset::UTC).replace_nanosecond(0).ok()?;
    time.format(&Rfc3339).ok()
}

/// A `KUBERNETES_EXEC_INFO` credkit cannot answer.
#[derive(Debug)]
pub struct ExecInfoError {
    why: Why,
}

#[derive(Debug)]
enum Why {
    TooLarge,
    /// Where the JSON went wrong (line, column): serde's message may quote a value.
    NotJson(usize, usize),
    Kind(String),
    NoVersion,
    Alpha,
    Unknown(String),
}

impl ExecInfoError {
    fn new(why: Why) -> Self {
        Self { why }
    }

    /// Whether the request asks for a version credkit does not answer (`v1alpha1` or one it
    /// does not know).
    pub fn is_unsupported_version(&self) -> bool {
        matches!(self.why, Why::Alpha | Why::Unknown(_))
    }
}

impl fmt::Display for ExecInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::TooLarge => write!(
                f,
                "{EXEC_INFO_ENV} is longer than {MAX_EXEC_INFO_LEN} bytes: it is not kubectl's request"
            ),
            // The position only: serde's message may quote a value.
            Why::NotJson(line, column) => write!(
                f,
                "{EXEC_INFO_ENV} is not kubectl's request, a JSON ExecCredential object (line {line}, column {column}); unset it to answer in v1beta1"
            ),
            Why::Kind(kind) => write!(f, "{EXEC_INFO_ENV} asks for a \"{kind}\", not an {KIND}"),
            Why::NoVersion => write!(
                f,
                "{EXEC_INFO_ENV} names no apiVersion; kubectl always does: unset it to answer in v1beta1"
            ),
            Why::Alpha => write!(
                f,
                "{GROUP}/v1alpha1 is not supported (Kubernetes removed it in 1.24): set the kubeconfig user's exec apiVersion to {GROUP}/v1 (kubectl 1.22 and later) or {GROUP}/v1beta1"
            ),
            Why::Unknown(version) => write!(
                f,
                "apiVersion \"{version}\" is not supported: set the kubeconfig user's exec apiVersion to {GROUP}/v1 (kubectl 1.22 and later) or {GROUP}/v1beta1"
            ),
        }
    }
}

impl std::error::Error for ExecInfoError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use time::macros::datetime;

    fn info(value: &Value) -> Result<ExecInfo, ExecInfoError> {
        ExecInfo::from_env(Some(&value.to_string()))
    }

    fn answer(info: ExecInfo, expiry: Option<OffsetDateTime>) -> Value {
        let token = SecretString::from("ya29.planted");
        serde_json::from_str(exec_credential(&info, &token, expiry).expose_secret()).unwrap()
    }

    #[test]
    fn both_versions_are_answered_in_the_version_asked() {
        for (version, expected) in [
            ("client.authentication.k8s.io/v1", ApiVersion::V1),
            ("client.authentication.k8s.io/v1beta1", ApiVersion::V1Beta1),
        ] {
            let info = info(&json!({
                "kind": "ExecCredential",
                "apiVersion": version,
                "spec": {"interactive": true, "cluster": {"server": "https://10.0.0.1"}},
            }))
            .unwrap();
            assert_eq!(info.api_version(), expected);
            assert_eq!(expected.as_str(), version);
            assert!(info.interactive());
            let expiry = datetime!(2026-01-02 03:04:05.9 +01:00);
            assert_eq!(
                answer(info, Some(expiry)),
                json!({
                    "apiVersion": version,
                    "kind": "ExecCredential",
                    "status": {"token": "ya29.planted", "expirationTimestamp": "2026-01-02T02:04:05Z"},
                })
            );
        }
    }

    #[test]
    fn interactive_only_when_the_spec_says_so() {
        let v1 = "client.authentication.k8s.io/v1";
        assert!(
            !info(&json!({"apiVersion": v1, "spec": {"interactive": false}}))
                .unwrap()
                .interactive()
        );
        assert!(
            !info(&json!({"apiVersion": v1, "spec": {}}))
                .unwrap()
                .interactive()
        );
        assert!(!info(&json!({"apiVersion": v1})).unwrap().interactive());
        assert!(
            info(&json!({"apiVersion": v1, "spec": {"interactive": true}}))
                .unwrap()
                .interactive()
        );
    }

    #[test]
    fn absent_is_v1beta1_and_not_interactive() {
        for empty in ["", " \n"] {
            assert_eq!(ExecInfo::from_env(Some(empty)).unwrap(), ExecInfo::absent());
        }
        let absent = ExecInfo::from_env(None).unwrap();
        assert_eq!(absent, ExecInfo::absent());
        assert_eq!(absent.api_version(), ApiVersion::V1Beta1);
        assert!(!absent.interactive());
    }

    #[test]
    fn without_an_expiry_the_timestamp_is_left_out() {
        let value = answer(ExecInfo::absent(), None);
        assert_eq!(
            value,
            json!({
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "kind": "ExecCredential",
                "status": {"token": "ya29.planted"},
            })
        );
    }

    #[test]
    fn v1alpha1_and_unknown_versions_are_refused_with_what_to_set() {
        let err =
            info(&json!({"apiVersion": "client.authentication.k8s.io/v1alpha1"})).unwrap_err();
        assert!(err.is_unsupported_version());
        let message = err.to_string();
        assert!(message.contains("v1alpha1 is not supported"), "{message}");
        assert!(
            message.contains("client.authentication.k8s.io/v1beta1"),
            "{message}"
        );
        let err = info(&json!({"apiVersion": "example.com/v9\n"})).unwrap_err();
        assert!(err.is_unsupported_version());
        let message = err.to_string();
        assert!(
            message.contains(r#""example.com/v9\n" is not supported"#),
            "{message}"
        );
        let long = "v".repeat(100);
        let message = info(&json!({"apiVersion": long})).unwrap_err().to_string();
        assert!(
            message.contains(&format!("\"{}...\"", "v".repeat(64))),
            "{message}"
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        for (bad, says) in [
            ("not json", "line 1, column 2"),
            ("[]", "not kubectl's request"),
            (r#"{"apiVersion": 1}"#, "not kubectl's request"),
            (
                r#"{"spec": {"interactive": "yes"}}"#,
                "not kubectl's request",
            ),
            ("{}", "names no apiVersion"),
            (
                r#"{"kind": "Pod", "apiVersion": "client.authentication.k8s.io/v1"}"#,
                "\"Pod\", not an ExecCredential",
            ),
        ] {
            let err = ExecInfo::from_env(Some(bad)).unwrap_err();
            assert!(!err.is_unsupported_version(), "{bad}");
            let message = err.to_string();
            assert!(message.contains(says), "{bad}: {message}");
            assert!(message.starts_with(EXEC_INFO_ENV), "{bad}: {message}");
        }
    }

    #[test]
    fn a_request_over_the_bound_is_refused_unread() {
        let padding = " ".repeat(MAX_EXEC_INFO_LEN);
        let at_bound = format!("{}{}", &padding[..MAX_EXEC_INFO_LEN - 2], "{}");
        assert_eq!(at_bound.len(), MAX_EXEC_INFO_LEN);
        let message = ExecInfo::from_env(Some(&at_bound)).unwrap_err().to_string();
        assert!(message.contains("names no apiVersion"), "{message}");
        let over = format!("{padding}{{}}");
        let message = ExecInfo::from_env(Some(&over)).unwrap_err().to_string();
        assert!(message.contains("longer than"), "{message}");
    }

    #[test]
    fn the_answer_is_never_in_debug() {
        let token = SecretString::from("ya29.planted");
        let answer = exec_credential(&ExecInfo::absent(), &token, None);
        assert!(!format!("{answer:?}").contains("planted"));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_fails_without_quoting_a_planted_token(
            text in any::<String>(),
            token in "[a-z]{8}",
        ) {
            let planted = format!("{text}planted{token}");
            if let Err(err) = ExecInfo::from_env(Some(&planted)) {
                let planted_token = format!("planted{token}");
                prop_assert!(!err.to_string().contains(&planted_token));
            }
        }

        #[test]
        fn the_answer_round_trips_the_token(token in "\\PC{1,40}", secs in 0i64..4_000_000_000) {
            let expiry = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let info = ExecInfo { api_version: ApiVersion::V1, interactive: false };
            let answer = exec_credential(&info, &SecretString::from(token.clone()), Some(expiry));
            let value: Value = serde_json::from_str(answer.expose_secret()).unwrap();
            prop_assert_eq!(value["status"]["token"].as_str(), Some(token.as_str()));
            let stamp = value["status"]["expirationTimestamp"].as_str().unwrap();
            prop_assert_eq!(OffsetDateTime::parse(stamp, &Rfc3339).unwrap(), expiry);
        }
    }
}
