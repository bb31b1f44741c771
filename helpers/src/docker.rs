//! docker's credential helpers (the `docker-credential-helpers` protocol).
//!
//! docker runs `docker-credential-<name> <action>` for a registry that `credHelpers` (or
//! `credsStore`) in `~/.docker/config.json` gives to `<name>`, writes the input on its
//! standard input and reads the answer from its standard output. An error is a message on
//! standard output and exit status 1.
//!
//! | action | input | answer |
//! |---|---|---|
//! | `get` | the registry's server URL | `{"ServerURL":..,"Username":"oauth2accesstoken","Secret":<token>}` |
//! | `store` | `{"ServerURL":..,"Username":..,"Secret":..}` | nothing |
//! | `erase` | the server URL | nothing |
//! | `list` | nothing | `{"<server URL>":"<username>",...}` |
//! | `version` | nothing | one line |
//!
//! A Google token helper holds nothing to store or erase: its secret is the token it gets
//! when asked. So, as gcloud's helper does, `store` and `erase` accept a Google registry
//! (`docker login` and `docker logout` then succeed) and change nothing; for any other
//! registry `store` fails (credkit cannot keep other registries' passwords) and `erase`
//! answers the protocol's "not found". `list` names Google's registries, as
//! `docker-credential-gcr` does, so docker knows their secret is a token. `get` answers only
//! the hosts of its [`HostList`] and declines every other with the protocol's "not found".
//!
//! ```
//! use credkit_helpers::docker::{Action, get_answer, ServerUrl, NOT_FOUND};
//! use credkit_helpers::hosts::HostList;
//! use secrecy::{ExposeSecret, SecretString};
//!
//! assert_eq!(Action::parse(Some("get"), "docker-credential-credkit")?, Action::Get);
//! let registries = HostList::registries();
//!
//! let url = ServerUrl::parse(b"https://us-docker.pkg.dev\n")?;
//! assert!(url.allowed_by(&registries));
//! let answer = get_answer(&url, &SecretString::from("ya29.token"));
//! assert_eq!(
//!     answer.expose_secret(),
//!     "{\"ServerURL\":\"https://us-docker.pkg.dev\",\"Username\":\"oauth2accesstoken\",\"Secret\":\"ya29.token\"}\n"
//! );
//!
//! // Not Google's: declined, and the token never leaves.
//! let other = ServerUrl::parse(b"registry.example.com")?;
//! assert!(!other.allowed_by(&registries));
//! assert_eq!(NOT_FOUND, "credentials not found in native keychain");
//! # Ok::<(), credkit_helpers::docker::DockerError>(())
//! ```

use crate::shorten;
use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::hosts::HostList;

/// The user name of a Google registry's token: the secret is an OAuth access token.
pub const USERNAME: &str = "oauth2accesstoken";

/// The protocol's answer for a registry the helper holds nothing for.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// The protocol's error for an empty server URL.
pub const MISSING_SERVER_URL: &str = "no credentials server URL";

/// The protocol's error for credentials to store without a user name.
pub const MISSING_USERNAME: &str = "no credentials username";

/// The most input read from standard input: a server URL, or the credentials `store` is given.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// Container Registry's hosts, which `list` names (Artifact Registry's hosts are one per
/// location and are not listed; `get` answers them all).
pub const LISTED_REGISTRIES: &[&str] = &[
    "gcr.io",
    "us.gcr.io",
    "eu.gcr.io",
    "asia.gcr.io",
    "marketplace.gcr.io",
];

/// What docker asks the helper to do: its one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// The credentials for a server URL.
    Get,
    /// Keep credentials (`docker login`).
    Store,
    /// Forget a server URL's credentials (`docker logout`).
    Erase,
    /// The server URLs and user names held.
    List,
    /// The helper's version.
    Version,
}

impl Action {
    /// The action named by the helper's argument; `program` is the helper's name for the usage
    /// message.
    ///
    /// # Errors
    ///
    /// No argument (the protocol's usage message), or an unknown action (the protocol's
    /// "Unknown credential action").
    pub fn parse(arg: Option<&str>, program: &str) -> Result<Self, DockerError> {
        match arg {
            None => Err(DockerError::new(Why::Usage(program.to_owned()))),
            Some("get") => Ok(Self::Get),
            Some("store") => Ok(Self::Store),
            Some("erase") => Ok(Self::Erase),
            Some("list") => Ok(Self::List),
            Some("version") => Ok(Self::Version),
            Some(other) => Err(DockerError::new(Why::UnknownAction(shorten(other)))),
        }
    }
}

/// The server URL `get` and `erase` are given, trimmed of surrounding white space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl(String);

impl ServerUrl {
    /// The server URL in `input`, the bytes on standard input.
    ///
    /// # Errors
    ///
    /// More than [`MAX_INPUT_LEN`] bytes, not UTF-8, or nothing but white space (the
    /// protocol's [`MISSING_SERVER_URL`]).
    pub fn parse(input: &[u8]) -> Result<Self, DockerError> {
        let text = text_of(input)?;
        let url = text.trim();
        if url.is_empty() {
            return Err(DockerError::new(Why::MissingServerUrl));
        }
        Ok(Self(url.to_owned()))
    }

    /// The server URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `hosts` allows a token to be sent to this registry. A server URL without a
    /// scheme (`gcr.io`, as docker writes most) is taken as https.
    pub fn allowed_by(&self, hosts: &HostList) -> bool {
        hosts.allows_url(&self.0)
    }
}

/// The credentials `store` is given.
#[derive(Debug)]
pub struct StoreRequest {
    server_url: ServerUrl,
    username: String,
    // Kept only to be dropped (wiped): a Google registry's secret is a token got when asked.
    _secret: SecretString,
}

#[derive(Deserialize)]
struct StoreWire {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: Option<SecretString>,
}

impl StoreRequest {
    /// The credentials in `input`, the JSON object on standard input.
    ///
    /// # Errors
    ///
    /// More than [`MAX_INPUT_LEN`] bytes, not UTF-8, not a JSON object of strings, or without
    /// a server URL ([`MISSING_SERVER_URL`]) or user name ([`MISSING_USERNAME`]).
    pub fn parse(input: &[u8]) -> Result<Self, DockerError> {
        let text = text_of(input)?;
        // serde would take an array for the struct too; the protocol sends an object.
        if !text.trim_start().starts_with('{') {
            return Err(DockerError::new(Why::NotObject));
        }
        let wire: StoreWire = serde_json::from_str(text)
            .map_err(|err| DockerError::new(Why::NotJson(err.line(), err.column())))?;
        if wire.server_url.is_empty() {
            return Err(DockerError::new(Why::MissingServerUrl));
        }
        if wire.username.is_empty() {
            return Err(DockerError::new(Why::MissingUsername));
        }
        Ok(Self {
            server_url: ServerUrl(wire.server_url),
            username: wire.username,
            _secret: wire.secret.unwrap_or_else(|| SecretString::from("")),
        })
    }

    /// The registry the credentials are for.
    pub fn server_url(&self) -> &ServerUrl {
        &self.server_url
    }

    /// The user name given.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Whether `store` succeeds: for a registry of `hosts` it does (and keeps nothing: the
    /// secret is the token `get` answers); any other it cannot keep.
    ///
    /// # Errors
    ///
    /// The registry is not in `hosts`: credkit keeps no other registry's password.
    pub fn accept(&self, hosts: &HostList) -> Result<(), DockerError> {
        if self.server_url.allowed_by(hosts) {
            Ok(())
        } else {
            Err(DockerError::new(Why::CannotStore))
        }
    }
}

/// Whether `erase` succeeds: for a registry of `hosts` it does (there is nothing to forget);
/// for another it answers the protocol's [`NOT_FOUND`].
///
/// # Errors
///
/// The registry is not in `hosts` ([`NOT_FOUND`]).
pub fn erase(url: &ServerUrl, hosts: &HostList) -> Result<(), DockerError> {
    if url.allowed_by(hosts) {
        Ok(())
    } else {
        Err(DockerError::not_found())
    }
}

#[derive(Serialize)]
struct GetAnswer<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

/// `get`'s answer for `url`: the server URL as given, [`USERNAME`] and the token, one JSON
/// object and a newline (as the protocol's Go encoder writes it).
///
/// The answer holds the token, so it is a secret: print it with `expose_secret()`.
pub fn get_answer(url: &ServerUrl, token: &SecretString) -> SecretString {
    let answer = GetAnswer {
        server_url: url.as_str(),
        username: USERNAME,
        secret: token.expose_secret(),
    };
    // Serializing strings into a String cannot fail; should it, the answer is an empty object
    // docker refuses, never a panic.
    let mut json = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".to_owned());
    json.push('\n');
    SecretString::from(json)
}

/// `list`'s answer: `https://<host>` for each of `hosts`, with [`USERNAME`], as one JSON object
/// (sorted) and a newline.
pub fn list_answer<'a>(hosts: impl IntoIterator<Item = &'a str>) -> String {
    let listed: BTreeMap<String, &str> = hosts
        .into_iter()
        .map(|host| (format!("https://{host}"), USERNAME))
        .collect();
    let mut json = serde_json::to_string(&listed).unwrap_or_else(|_| "{}".to_owned());
    json.push('\n');
    json
}

/// `version`'s answer: `<program> (credkit) <version>` and a newline, the protocol's shape.
pub fn version_answer(program: &str, version: &str) -> String {
    format!("{program} (credkit) {version}\n")
}

fn text_of(input: &[u8]) -> Result<&str, DockerError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(DockerError::new(Why::TooLarge));
    }
    std::str::from_utf8(input).map_err(|_| DockerError::new(Why::NotUtf8))
}

/// Why docker's request cannot be answered. `Display` is the message the protocol writes on
/// standard output; it never quotes the input.
#[derive(Debug)]
pub struct DockerError {
    why: Why,
}

#[derive(Debug)]
enum Why {
    Usage(String),
    UnknownAction(String),
    TooLarge,
    NotUtf8,
    /// Where the JSON went wrong (line, column): serde's message may quote a value.
    NotJson(usize, usize),
    NotObject,
    MissingServerUrl,
    MissingUsername,
    NotFound,
    CannotStore,
}

impl DockerError {
    fn new(why: Why) -> Self {
        Self { why }
    }

    /// The protocol's [`NOT_FOUND`]: the registry is not one this helper answers.
    pub fn not_found() -> Self {
        Self::new(Why::NotFound)
    }

    /// Whether this is the protocol's [`NOT_FOUND`], which docker takes as "no credentials
    /// here" rather than a failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self.why, Why::NotFound)
    }
}

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::Usage(program) => write!(f, "Usage: {program} <store|get|erase|list|version>"),
            Why::UnknownAction(action) => write!(f, "Unknown credential action `{action}`"),
            Why::TooLarge => write!(
                f,
                "the input is longer than {MAX_INPUT_LEN} bytes: it is not docker's request"
            ),
            Why::NotUtf8 => f.write_str("the input is not UTF-8 text: it is not docker's request"),
            // The position only: serde's message may quote a value, and this one holds a secret.
            Why::NotJson(line, column) => write!(
                f,
                "the credentials to store are not a JSON object of ServerURL, Username and Secret strings (line {line}, column {column})"
            ),
            Why::NotObject => f.write_str(
                "the credentials to store are not a JSON object of ServerURL, Username and Secret strings",
            ),
            Why::MissingServerUrl => f.write_str(MISSING_SERVER_URL),
            Why::MissingUsername => f.write_str(MISSING_USERNAME),
            Why::NotFound => f.write_str(NOT_FOUND),
            Why::CannotStore => f.write_str(
                "credkit keeps no password: it answers Google's registries with a token, and this registry is not one of them; give it another credential helper in ~/.docker/config.json (credHelpers)",
            ),
        }
    }
}

impl std::error::Error for DockerError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const PROGRAM: &str = "docker-credential-credkit";

    #[test]
    fn actions() {
        for (name, action) in [
            ("get", Action::Get),
            ("store", Action::Store),
            ("erase", Action::Erase),
            ("list", Action::List),
            ("version", Action::Version),
        ] {
            assert_eq!(Action::parse(Some(name), PROGRAM).unwrap(), action);
        }
        assert_eq!(
            Action::parse(None, PROGRAM).unwrap_err().to_string(),
            "Usage: docker-credential-credkit <store|get|erase|list|version>"
        );
        assert_eq!(
            Action::parse(Some("GET"), PROGRAM).unwrap_err().to_string(),
            "Unknown credential action `GET`"
        );
        assert_eq!(
            Action::parse(Some("a\nb"), PROGRAM)
                .unwrap_err()
                .to_string(),
            "Unknown credential action `a\\nb`"
        );
        let long = "x".repeat(100);
        let message = Action::parse(Some(&long), PROGRAM).unwrap_err().to_string();
        assert_eq!(
            message,
            format!("Unknown credential action `{}...`", "x".repeat(64))
        );
    }

    #[test]
    fn get_answers_google_registries_with_the_token() {
        let registries = HostList::registries();
        for input in [
            "gcr.io",
            "https://gcr.io\n",
            "  eu.gcr.io\r\n",
            "us-docker.pkg.dev",
            "https://europe-west1-docker.pkg.dev/v2/",
        ] {
            let url = ServerUrl::parse(input.as_bytes()).unwrap();
            assert_eq!(url.as_str(), input.trim());
            assert!(url.allowed_by(&registries), "{input}");
            let answer = get_answer(&url, &SecretString::from("ya29.planted"));
            let text = answer.expose_secret();
            assert!(text.ends_with("}\n"), "{text}");
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                value,
                json!({"ServerURL": input.trim(), "Username": "oauth2accesstoken", "Secret": "ya29.planted"})
            );
        }
    }

    #[test]
    fn get_declines_other_registries() {
        let registries = HostList::registries();
        for input in [
            "registry.example.com",
            "docker.io",
            "http://gcr.io",
            "https://gcr.io.evil.com",
        ] {
            let url = ServerUrl::parse(input.as_bytes()).unwrap();
            assert!(!url.allowed_by(&registries), "{input}");
        }
        let mine = HostList::registries()
            .with_pattern("127.0.0.1:5000")
            .unwrap();
        assert!(
            ServerUrl::parse(b"http://127.0.0.1:5000")
                .unwrap()
                .allowed_by(&mine)
        );
        assert!(DockerError::not_found().is_not_found());
        assert_eq!(DockerError::not_found().to_string(), NOT_FOUND);
    }

    #[test]
    fn bad_server_urls() {
        for blank in [&b""[..], b" \n", b"\r\n\t"] {
            let err = ServerUrl::parse(blank).unwrap_err();
            assert_eq!(err.to_string(), MISSING_SERVER_URL);
            assert!(!err.is_not_found());
        }
        let message = ServerUrl::parse(b"gcr.io\xff").unwrap_err().to_string();
        assert!(message.contains("not UTF-8"), "{message}");
        let at_bound = "a".repeat(MAX_INPUT_LEN);
        assert!(ServerUrl::parse(at_bound.as_bytes()).is_ok());
        let over = "a".repeat(MAX_INPUT_LEN + 1);
        let message = ServerUrl::parse(over.as_bytes()).unwrap_err().to_string();
        assert!(message.contains("longer than"), "{message}");
    }

    #[test]
    fn store_accepts_google_registries_and_refuses_others() {
        let registries = HostList::registries();
        let request = StoreRequest::parse(
            br#"{"ServerURL":"https://gcr.io","Username":"oauth2accesstoken","Secret":"ya29.planted"}"#,
        )
        .unwrap();
        assert_eq!(request.server_url().as_str(), "https://gcr.io");
        assert_eq!(request.username(), "oauth2accesstoken");
        assert!(!format!("{request:?}").contains("planted"));
        request.accept(&registries).unwrap();

        let other = StoreRequest::parse(
            br#"{"ServerURL":"registry.example.com","Username":"me","Secret":"hunter2"}"#,
        )
        .unwrap();
        let err = other.accept(&registries).unwrap_err();
        assert!(!err.is_not_found());
        let message = err.to_string();
        assert!(message.contains("keeps no password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        // No secret is fine: nothing is kept.
        StoreRequest::parse(br#"{"ServerURL":"gcr.io","Username":"u"}"#)
            .unwrap()
            .accept(&registries)
            .unwrap();
    }

    #[test]
    fn store_refuses_malformed_credentials_without_quoting_them() {
        for (bad, says) in [
            (&br#"{"Username":"u","Secret":"s"}"#[..], MISSING_SERVER_URL),
            (br#"{"ServerURL":"","Username":"u"}"#, MISSING_SERVER_URL),
            (br#"{"ServerURL":"gcr.io","Secret":"s"}"#, MISSING_USERNAME),
            (
                br#"{"ServerURL":"gcr.io","Username":"u","Secret":7}"#,
                "line 1, column",
            ),
            (
                br#"{"ServerURL":"gcr.io","Username":"u","Secret":"planted""#,
                "line 1, column",
            ),
            (b"planted", "not a JSON object"),
            (b" [\"gcr.io\", \"u\", \"planted\"]", "not a JSON object"),
            (b"{planted", "line 1, column 2"),
            (b"\xffplanted", "not UTF-8"),
        ] {
            let err = StoreRequest::parse(bad).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(says), "{message}");
            assert!(!message.contains("planted"), "{message}");
        }
        let over = format!("{{\"ServerURL\":\"{}\"}}", "a".repeat(MAX_INPUT_LEN));
        let message = StoreRequest::parse(over.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(message.contains("longer than"), "{message}");
    }

    #[test]
    fn a_long_secret_is_read() {
        // An identity token given to `docker login` is a few kilobytes.
        let input =
            json!({"ServerURL": "gcr.io", "Username": "u", "Secret": "a".repeat(16 * 1024)});
        let request = StoreRequest::parse(input.to_string().as_bytes()).unwrap();
        assert_eq!(request.server_url().as_str(), "gcr.io");
    }

    #[test]
    fn erase_accepts_google_registries_and_finds_nothing_for_others() {
        let registries = HostList::registries();
        erase(&ServerUrl::parse(b"gcr.io").unwrap(), &registries).unwrap();
        let err = erase(&ServerUrl::parse(b"docker.io").unwrap(), &registries).unwrap_err();
        assert!(err.is_not_found());
    }

    #[test]
    fn list_and_version() {
        assert_eq!(
            list_answer(LISTED_REGISTRIES.iter().copied()),
            "{\"https://asia.gcr.io\":\"oauth2accesstoken\",\"https://eu.gcr.io\":\"oauth2accesstoken\",\"https://gcr.io\":\"oauth2accesstoken\",\"https://marketplace.gcr.io\":\"oauth2accesstoken\",\"https://us.gcr.io\":\"oauth2accesstoken\"}\n"
        );
        assert_eq!(list_answer([]), "{}\n");
        assert_eq!(
            version_answer(PROGRAM, "0.1.0"),
            "docker-credential-credkit (credkit) 0.1.0\n"
        );
        let registries = HostList::registries();
        for host in LISTED_REGISTRIES {
            assert!(registries.allows(host, None, true), "{host}");
        }
    }

    #[test]
    fn the_answer_is_never_in_debug() {
        let answer = get_answer(
            &ServerUrl::parse(b"gcr.io").unwrap(),
            &SecretString::from("ya29.planted"),
        );
        assert!(!format!("{answer:?}").contains("planted"));
    }

    proptest! {
        #[test]
        fn store_errors_never_quote_the_secret(prefix in any::<String>(), secret in "[a-z]{12}") {
            let input = format!("{prefix}\"Secret\":\"planted{secret}\"");
            if let Err(err) = StoreRequest::parse(input.as_bytes()) {
                prop_assert!(!err.to_string().contains(&secret));
            }
        }

        #[test]
        fn the_answer_round_trips(url in "[a-z.:/0-9-]{1,40}", token in "\\PC{1,40}") {
            let Ok(server) = ServerUrl::parse(url.as_bytes()) else {
                return Ok(());
            };
            let answer = get_answer(&server, &SecretString::from(token.clone()));
            let value: Value = serde_json::from_str(answer.expose_secret()).unwrap();
            prop_assert_eq!(value["ServerURL"].as_str(), Some(url.trim()));
            prop_assert_eq!(value["Secret"].as_str(), Some(token.as_str()));
        }
    }
}
