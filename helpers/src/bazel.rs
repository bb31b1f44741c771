//! Bazel's credential helpers (the credential-helper spec Bazel, `uv` and other build tools
//! share).
//!
//! The tool runs `<helper> get` (Bazel's `--credential_helper=[pattern=]path` takes a path and
//! no arguments), writes `{"uri": "https://..."}` on its standard input, and reads the headers
//! to send to that URI from its standard output, with when they expire: the tool keeps them
//! until then.
//!
//! ```
//! use credkit_helpers::bazel::{Command, GetRequest, get_answer, NO_CREDENTIALS};
//! use credkit_helpers::hosts::HostList;
//! use credkit_core::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
//! use secrecy::ExposeSecret;
//! use time::macros::datetime;
//!
//! assert_eq!(Command::parse(Some("get"))?, Command::Get);
//! let apis = HostList::apis();
//!
//! let request = GetRequest::parse(br#"{"uri": "https://storage.googleapis.com/bucket/file.tar.gz"}"#)?;
//! assert!(request.allowed_by(&apis));
//! let mut headers = HeaderMap::new();
//! headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer ya29.token"));
//! let answer = get_answer(&headers, Some(datetime!(2026-01-02 03:04:05 UTC)))?;
//! assert_eq!(
//!     answer.expose_secret(),
//!     "{\"headers\":{\"Authorization\":[\"Bearer ya29.token\"]},\"expires\":\"2026-01-02T03:04:05Z\"}\n"
//! );
//!
//! // Not Google's: no credentials (the spec's empty answer), and the token never leaves.
//! let other = GetRequest::parse(br#"{"uri": "https://github.com/org/repo/archive.zip"}"#)?;
//! assert!(!other.allowed_by(&apis));
//! assert_eq!(NO_CREDENTIALS, "{}\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A URI outside the [`HostList`] gets [`NO_CREDENTIALS`], the spec's answer for "no
//! credentials needed", as tweag's credential helper answers hosts it does not serve: a
//! helper given to every host (`--credential_helper=path`) then leaves GitHub downloads
//! alone instead of failing the build. Input that is not the spec's request is an error
//! (exit status 1, the reason on standard error).
//!
//! `https` and `grpcs` URIs are taken as secure (Bazel's remote cache and execution use
//! `grpcs://`); `http` and `grpc` only on loopback, as [`HostList`] allows.

use crate::shorten;
use std::collections::BTreeMap;
use std::fmt;

use credkit_core::http::HeaderMap;
use credkit_core::http::header::AUTHORIZATION;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::{Host, Url};

use crate::hosts::HostList;
use crate::kubectl::rfc3339;

/// The answer for a URI the helper does not serve: no headers (the spec's "no credentials
/// needed"), and a newline.
pub const NO_CREDENTIALS: &str = "{}\n";

/// The most of the request read from standard input.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// The helper's command: its first argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// The headers for a URI (the one command the spec defines).
    Get,
}

impl Command {
    /// The command named by the helper's first argument.
    ///
    /// # Errors
    ///
    /// No argument (the spec asks for usage instructions and a failure), or a command other
    /// than `get`.
    pub fn parse(arg: Option<&str>) -> Result<Self, BazelError> {
        match arg {
            Some("get") => Ok(Self::Get),
            None => Err(BazelError::new(Why::Usage)),
            Some(other) => Err(BazelError::new(Why::UnknownCommand(shorten(other)))),
        }
    }
}

/// The request of `get`: the URI the tool will send the headers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetRequest {
    uri: Url,
}

#[derive(Deserialize)]
struct Wire {
    uri: String,
}

impl GetRequest {
    /// The request in `input`, the JSON object on standard input (other members are ignored,
    /// as the spec asks).
    ///
    /// # Errors
    ///
    /// More than [`MAX_REQUEST_LEN`] bytes, not a JSON object with a `uri` string, or a `uri`
    /// that is not an absolute URL. The message never quotes the URI, which may carry a
    /// password or a signed query.
    pub fn parse(input: &[u8]) -> Result<Self, BazelError> {
        if input.len() > MAX_REQUEST_LEN {
            return Err(BazelError::new(Why::TooLarge));
        }
        let wire: Wire = serde_json::from_slice(input)
            .map_err(|err| BazelError::new(Why::NotJson(err.line(), err.column())))?;
        let uri = Url::parse(wire.uri.trim()).map_err(|_| BazelError::new(Why::NotUrl))?;
        Ok(Self { uri })
    }

    /// The URI.
    pub fn uri(&self) -> &Url {
        &self.uri
    }

    /// Whether `hosts` allows a token to be sent to the URI: `https` and `grpcs` anywhere the
    /// list names, `http` and `grpc` only on loopback; no other scheme.
    pub fn allowed_by(&self, hosts: &HostList) -> bool {
        let secure = match self.uri.scheme() {
            "https" | "grpcs" => true,
            "http" | "grpc" => false,
            _ => return false,
        };
        let host = match self.uri.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return false,
        };
        hosts.allows(&host, self.uri.port(), secure)
    }
}

#[derive(Serialize)]
struct Answer<'a> {
    headers: BTreeMap<&'a str, Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

/// `get`'s answer: every header of `headers` (`Authorization` spelled so, the others as
/// given, such as `x-goog-user-project`) with its values, and `expires` (RFC 3339 in UTC, to
/// the second, rounded down) when the expiry is known. One JSON object and a newline.
///
/// The answer holds the token, so it is a secret: print it with `expose_secret()`.
///
/// # Errors
///
/// A header value is not visible ASCII text (a token never is).
pub fn get_answer(
    headers: &HeaderMap,
    expiry: Option<OffsetDateTime>,
) -> Result<SecretString, BazelError> {
    let mut rendered: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in headers {
        let value = value
            .to_str()
            .map_err(|_| BazelError::new(Why::NotText(name.as_str().to_owned())))?;
        let name = if name == AUTHORIZATION {
            "Authorization"
        } else {
            name.as_str()
        };
        rendered.entry(name).or_default().push(value);
    }
    let answer = Answer {
        headers: rendered,
        expires: expiry.and_then(rfc3339),
    };
    // Serializing strings into a String cannot fail; should it, the answer is "no
    // credentials", never a panic.
    let mut json = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".to_owned());
    json.push('\n');
    Ok(SecretString::from(json))
}

/// A request the helper cannot answer.
#[derive(Debug)]
pub struct BazelError {
    why: Why,
}

#[derive(Debug)]
enum Why {
    Usage,
    UnknownCommand(String),
    TooLarge,
    /// Where the JSON went wrong (line, column): serde's message may quote a value.
    NotJson(usize, usize),
    NotUrl,
    NotText(String),
}

impl BazelError {
    fn new(why: Why) -> Self {
        Self { why }
    }
}

impl fmt::Display for BazelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::Usage => f.write_str(
                "usage: credkit-credential-helper get, with {\"uri\": \"https://...\"} on standard input (the credential-helper spec Bazel uses)",
            ),
            Why::UnknownCommand(command) => write!(
                f,
                "unknown command `{command}`: the one command is get"
            ),
            Why::TooLarge => write!(
                f,
                "the request is longer than {MAX_REQUEST_LEN} bytes: it is not a credential helper request"
            ),
            // The position only: serde's message may quote the URI.
            Why::NotJson(line, column) => write!(
                f,
                "the request is not a JSON object with a uri string, as the credential-helper spec has it (line {line}, column {column})"
            ),
            Why::NotUrl => f.write_str("the request's uri is not an absolute URL"),
            Why::NotText(name) => write!(f, "the {name} header is not printable text"),
        }
    }
}

impl std::error::Error for BazelError {}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit_core::http::HeaderValue;
    use proptest::prelude::*;
    use secrecy::ExposeSecret;
    use serde_json::{Value, json};
    use time::macros::datetime;

    fn request(uri: &str) -> GetRequest {
        GetRequest::parse(json!({ "uri": uri }).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn commands() {
        assert_eq!(Command::parse(Some("get")).unwrap(), Command::Get);
        let message = Command::parse(None).unwrap_err().to_string();
        assert!(message.starts_with("usage: "), "{message}");
        assert_eq!(
            Command::parse(Some("store\n")).unwrap_err().to_string(),
            "unknown command `store\\n`: the one command is get"
        );
        let long = "x".repeat(100);
        let message = Command::parse(Some(&long)).unwrap_err().to_string();
        assert!(
            message.contains(&format!("`{}...`", "x".repeat(64))),
            "{message}"
        );
        assert!(!message.contains(&"x".repeat(65)), "{message}");
    }

    #[test]
    fn google_hosts_over_https_and_grpcs() {
        let apis = HostList::apis();
        for uri in [
            "https://storage.googleapis.com/bucket/object",
            "grpcs://remotebuildexecution.googleapis.com",
            "https://us-docker.pkg.dev/v2/",
            "https://STORAGE.googleapis.com:443/x",
            "https://storage.cloud.google.com/bucket/object",
        ] {
            assert!(request(uri).allowed_by(&apis), "{uri}");
        }
        for uri in [
            "http://storage.googleapis.com/bucket/object",
            "grpc://remotebuildexecution.googleapis.com",
            "https://github.com/org/repo",
            "ftp://storage.googleapis.com/x",
            "https://googleapis.com.evil.com/",
            "data:text/plain,hello",
            "file:///etc/passwd",
        ] {
            assert!(!request(uri).allowed_by(&apis), "{uri}");
        }
    }

    #[test]
    fn loopback_only_when_named_and_plain_text_only_there() {
        let list = HostList::apis()
            .with_pattern("127.0.0.1:8080")
            .unwrap()
            .with_pattern("[::1]:9090")
            .unwrap()
            .with_pattern("cache.example.com")
            .unwrap();
        assert!(request("http://127.0.0.1:8080/x").allowed_by(&list));
        assert!(request("grpc://127.0.0.1:8080").allowed_by(&list));
        assert!(!request("http://127.0.0.1:8081/x").allowed_by(&list));
        assert!(request("http://[::1]:9090/x").allowed_by(&list));
        assert!(request("grpcs://cache.example.com").allowed_by(&list));
        assert!(!request("grpc://cache.example.com").allowed_by(&list));
        assert!(!request("http://127.0.0.1:8080/x").allowed_by(&HostList::apis()));
    }

    #[test]
    fn the_request_keeps_its_uri_and_ignores_other_members() {
        let parsed = GetRequest::parse(
            br#"{"uri": " https://storage.googleapis.com/b/o ", "extra": [1, 2]}"#,
        )
        .unwrap();
        assert_eq!(parsed.uri().as_str(), "https://storage.googleapis.com/b/o");
    }

    #[test]
    fn malformed_requests_are_refused_without_quoting_the_uri() {
        for (bad, says) in [
            (&b""[..], "not a JSON object"),
            (b"planted", "not a JSON object"),
            (b"{}", "line 1, column 2"),
            (br#"{"uri": 5}"#, "not a JSON object"),
            (br#"{"uri": "planted"}"#, "not an absolute URL"),
            (br#"{"uri": "/relative/planted"}"#, "not an absolute URL"),
            (br#"{"uri": "https://planted.example"#, "not a JSON object"),
        ] {
            let message = GetRequest::parse(bad).unwrap_err().to_string();
            assert!(message.contains(says), "{message}");
            assert!(!message.contains("planted"), "{message}");
        }
    }

    #[test]
    fn a_long_signed_url_is_read() {
        // Signed URLs carry their signature in the query: several kilobytes.
        let uri = format!(
            "https://storage.googleapis.com/b/o?X-Goog-Signature={}",
            "a".repeat(16 * 1024)
        );
        assert_eq!(request(&uri).uri().as_str(), uri);
    }

    #[test]
    fn a_request_over_the_bound_is_refused() {
        let prefix = r#"{"uri": "https://storage.googleapis.com/"#;
        let fill = MAX_REQUEST_LEN - prefix.len() - 2;
        let at_bound = format!("{prefix}{}\"}}", "a".repeat(fill));
        assert_eq!(at_bound.len(), MAX_REQUEST_LEN);
        assert!(GetRequest::parse(at_bound.as_bytes()).is_ok());
        let over = format!("{prefix}{}\"}}", "a".repeat(fill + 1));
        let message = GetRequest::parse(over.as_bytes()).unwrap_err().to_string();
        assert!(message.contains("longer than"), "{message}");
    }

    #[test]
    fn the_answer_has_every_header_and_the_expiry() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer ya29.planted"),
        );
        headers.insert("x-goog-user-project", HeaderValue::from_static("billing"));
        headers.append("x-goog-user-project", HeaderValue::from_static("second"));
        let answer = get_answer(&headers, Some(datetime!(2026-01-02 03:04:05.7 -02:00))).unwrap();
        assert!(!format!("{answer:?}").contains("planted"));
        let text = answer.expose_secret();
        assert!(text.ends_with("}\n"), "{text}");
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            value,
            json!({
                "headers": {
                    "Authorization": ["Bearer ya29.planted"],
                    "x-goog-user-project": ["billing", "second"],
                },
                "expires": "2026-01-02T05:04:05Z",
            })
        );
        let without = get_answer(&headers, None).unwrap();
        let value: Value = serde_json::from_str(without.expose_secret()).unwrap();
        assert!(value.get("expires").is_none(), "{value}");
        assert_eq!(
            get_answer(&HeaderMap::new(), None).unwrap().expose_secret(),
            "{\"headers\":{}}\n"
        );
    }

    #[test]
    fn a_header_that_is_not_text_is_an_error() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        let message = get_answer(&headers, None).unwrap_err().to_string();
        assert_eq!(message, "the authorization header is not printable text");
    }

    proptest! {
        #[test]
        fn errors_never_quote_the_uri(uri in "\\PC{0,40}", secret in "[a-z]{12}") {
            let input = json!({ "uri": format!("{uri}planted{secret}") }).to_string();
            if let Err(err) = GetRequest::parse(input.as_bytes()) {
                prop_assert!(!err.to_string().contains(&secret));
            }
        }

        #[test]
        fn any_bytes_parse_or_fail(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = GetRequest::parse(&input);
        }
    }
}
