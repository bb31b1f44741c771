//! git's credential helper protocol: what git asks on standard input, and the answer.
//!
//! git runs a helper as `git-credential-<name> get` (or `store`, `erase`) and writes the
//! request on its standard input: `key=value` lines up to a blank line or the end of input
//! (`protocol`, `host` with any port, `path`, `username`, `url`, `capability[]`,
//! `wwwauth[]`, ...; see `git help credential`, "INPUT/OUTPUT FORMAT"). For `get` the helper
//! answers with lines of the same form, or nothing, and git then tries its next helper.
//!
//! [`Request`] reads a request, bounded to [`MAX_INPUT`] bytes, and tells whether it is for a
//! host of a [`HostList`] ([`Request::is_for`]); [`Answer`] renders the reply with the token
//! as the password and its expiry as `password_expiry_utc` (which git 2.41 and later honour:
//! it stops using the password then instead of sending an expired token).
//!
//! ```
//! use credkit_core::secrecy::SecretString;
//! use credkit_helpers::git::{Answer, Request};
//! use credkit_helpers::hosts::HostList;
//! use credkit_core::time::OffsetDateTime;
//!
//! let request = Request::parse(b"protocol=https\nhost=source.developers.google.com\n\n")?;
//! assert!(request.is_for(&HostList::git()));
//! let answer = Answer::new("me@example.com", SecretString::from("ya29.token"))
//!     .with_expiry(OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap());
//! use credkit_core::secrecy::ExposeSecret;
//! assert_eq!(
//!     answer.render()?.expose_secret(),
//!     "username=me@example.com\npassword=ya29.token\npassword_expiry_utc=1767225600\n"
//! );
//!
//! // Any other host gets no answer: the helper prints nothing.
//! let other = Request::parse(b"protocol=https\nhost=github.com\n")?;
//! assert!(!other.is_for(&HostList::git()));
//! # Ok::<(), credkit_helpers::git::ProtocolError>(())
//! ```

use std::fmt;
use std::io::{self, BufRead};

use credkit_core::secrecy::{ExposeSecret, SecretString};
use credkit_core::time::OffsetDateTime;
use url::Url;

use crate::hosts::HostList;

/// The most bytes of input a request may have (64 KiB); git's requests are far smaller.
pub const MAX_INPUT: usize = 64 * 1024;

/// The user name of an answer when the account's e-mail address is not known: what Google's
/// git hosts accept with an OAuth access token as the password.
pub const TOKEN_USERNAME: &str = "oauth2accesstoken";

/// The keys whose values are secrets: never shown by `Debug`.
const SECRET_KEYS: &[&str] = &["password", "oauth_refresh_token", "credential"];

/// A request git wrote to a credential helper: its `key=value` attributes, in order.
///
/// `Debug` shows the keys and the non-secret values; a `password` (or other secret) git
/// passes along shows as `[REDACTED]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Request {
    attributes: Vec<(String, String)>,
}

/// Why git's input is not a credential request. The message says which line, never what it
/// holds (it may hold a password).
#[derive(Debug)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The input is longer than [`MAX_INPUT`] bytes before its blank line.
    TooLong,
    /// A line has no `=`.
    NotKeyValue {
        /// The line's number, from 1.
        line: usize,
    },
    /// A line holds a NUL byte or a carriage return other than one before its line feed.
    ControlCharacter {
        /// The line's number, from 1.
        line: usize,
    },
    /// A line is not UTF-8.
    NotUtf8 {
        /// The line's number, from 1.
        line: usize,
    },
    /// A `url` attribute is not a URL.
    BadUrl {
        /// The line's number, from 1.
        line: usize,
    },
    /// An answer's value holds a line break or a NUL byte, which the protocol cannot carry.
    BadValue {
        /// The attribute's key.
        key: &'static str,
    },
    /// Reading the input failed.
    Read(io::Error),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(
                f,
                "git's credential request is over {MAX_INPUT} bytes: end it with a blank line"
            ),
            Self::NotKeyValue { line } => write!(
                f,
                "line {line} of git's credential request is not key=value: give one attribute a line"
            ),
            Self::ControlCharacter { line } => write!(
                f,
                "line {line} of git's credential request holds a NUL byte or a carriage return, which values may not"
            ),
            Self::NotUtf8 { line } => {
                write!(f, "line {line} of git's credential request is not UTF-8")
            }
            Self::BadUrl { line } => write!(
                f,
                "the url on line {line} of git's credential request is not a URL: give protocol://host/path"
            ),
            Self::BadValue { key } => write!(
                f,
                "the {key} holds a line break or a NUL byte, which git's credential protocol cannot carry"
            ),
            Self::Read(err) => write!(f, "could not read git's credential request: {err}"),
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read(err) => Some(err),
            _ => None,
        }
    }
}

/// The parts of the remote a request names, with a `url` attribute read as its parts.
#[derive(Default)]
struct Remote {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
    username: Option<String>,
}

impl Request {
    /// Reads a request from `reader`: `key=value` lines up to a blank line or the end of
    /// input, at most [`MAX_INPUT`] bytes. A line may end in CR LF. Nothing after the blank
    /// line is read.
    ///
    /// # Errors
    ///
    /// See [`ProtocolError`]: over-long input, a line without `=`, a NUL byte, a line that is
    /// not UTF-8, a `url` that is not a URL, or a failed read.
    pub fn read(reader: impl BufRead) -> Result<Self, ProtocolError> {
        let mut limited = reader.take(MAX_INPUT as u64 + 1);
        let mut attributes = Vec::new();
        let mut consumed = 0;
        let mut buffer = Vec::new();
        for number in 1.. {
            buffer.clear();
            let read = limited
                .read_until(b'\n', &mut buffer)
                .map_err(ProtocolError::Read)?;
            consumed += read;
            if consumed > MAX_INPUT {
                return Err(ProtocolError::TooLong);
            }
            let line = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                break;
            }
            attributes.push(attribute(line, number)?);
        }
        Ok(Self { attributes })
    }

    /// Reads a request from `input` (as [`read`](Self::read)).
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), but for the failed read.
    pub fn parse(input: &[u8]) -> Result<Self, ProtocolError> {
        Self::read(input)
    }

    /// The attributes, in order, secrets included.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value of `key`, as given (a `url` is not read into its parts here).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The protocol (`https`), from `protocol` or a `url`, whichever came last.
    pub fn protocol(&self) -> Option<String> {
        self.remote().protocol
    }

    /// The host with any port (`example.com:8443`), from `host` or a `url`, whichever came
    /// last.
    pub fn host(&self) -> Option<String> {
        self.remote().host
    }

    /// The path without its leading `/`, from `path` or a `url`, whichever came last.
    pub fn path(&self) -> Option<String> {
        self.remote().path
    }

    /// The user name, from `username` or a `url`, whichever came last.
    pub fn username(&self) -> Option<String> {
        self.remote().username
    }

    /// Whether a token may be sent for this request: its protocol is `https` (or `http` on
    /// loopback) and its host, with any port, is one of `hosts`. A request without both, or
    /// whose host is not a plain host name or address, is not.
    pub fn is_for(&self, hosts: &HostList) -> bool {
        let remote = self.remote();
        let (Some(protocol), Some(host)) = (remote.protocol, remote.host) else {
            return false;
        };
        let plain = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        plain
            && matches!(protocol.as_str(), "https" | "http")
            && hosts.allows_url(&format!("{protocol}://{host}/"))
    }

    /// The request as git writes it: `key=value` lines and a blank line. Reading it back
    /// gives an equal request.
    pub fn render(&self) -> SecretString {
        let mut text = String::new();
        for (key, value) in &self.attributes {
            text.push_str(key);
            text.push('=');
            text.push_str(value);
            text.push('\n');
        }
        text.push('\n');
        SecretString::from(text)
    }

    fn remote(&self) -> Remote {
        let mut remote = Remote::default();
        for (key, value) in &self.attributes {
            let value = Some(value.clone());
            match key.as_str() {
                "protocol" => remote.protocol = value,
                "host" => remote.host = value,
                "path" => remote.path = value,
                "username" => remote.username = value,
                "url" => {
                    // Checked when read: every url attribute parses.
                    if let Ok(url) = Url::parse(value.as_deref().unwrap_or_default()) {
                        remote = Remote::of_url(&url);
                    }
                }
                _ => {}
            }
        }
        remote
    }
}

impl Remote {
    /// As git reads a `url` attribute: it replaces every part, and names the ones it has.
    fn of_url(url: &Url) -> Self {
        let host = url.host_str().map(|host| match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        });
        let path = url.path().trim_start_matches('/');
        Self {
            protocol: Some(url.scheme().to_owned()),
            host,
            path: Some(path.to_owned()).filter(|p| !p.is_empty()),
            username: Some(url.username().to_owned()).filter(|u| !u.is_empty()),
        }
    }
}

/// One `key=value` line, without its line ending.
fn attribute(line: &[u8], number: usize) -> Result<(String, String), ProtocolError> {
    if line.iter().any(|&b| b == 0 || b == b'\r') {
        return Err(ProtocolError::ControlCharacter { line: number });
    }
    let line = std::str::from_utf8(line).map_err(|_| ProtocolError::NotUtf8 { line: number })?;
    let (key, value) = line
        .split_once('=')
        .ok_or(ProtocolError::NotKeyValue { line: number })?;
    if key == "url" && Url::parse(value).is_err() {
        return Err(ProtocolError::BadUrl { line: number });
    }
    Ok((key.to_owned(), value.to_owned()))
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (key, value) in &self.attributes {
            if SECRET_KEYS.contains(&key.as_str()) {
                list.entry(&format_args!("{key}=[REDACTED]"));
            } else {
                list.entry(&format_args!("{key}={value}"));
            }
        }
        list.finish()
    }
}

/// The answer to a `get`: the user name, the token as the password, and when it expires.
///
/// `Debug` shows the user name and the expiry, never the password.
#[derive(Clone)]
pub struct Answer {
    username: String,
    password: SecretString,
    expiry: Option<OffsetDateTime>,
}

impl Answer {
    /// An answer with `username` (the account's e-mail address, or [`TOKEN_USERNAME`]) and
    /// the token as `password`, without an expiry.
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Self {
            username: username.into(),
            password,
            expiry: None,
        }
    }

    /// Sets when the password expires: git 2.41 and later stop using it then.
    #[must_use]
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// When the password expires, if known.
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.expiry
    }

    /// The answer as git reads it: `username=`, `password=` and, with an expiry,
    /// `password_expiry_utc=` (Unix seconds) lines.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BadValue`]: the user name or password holds a line break or a NUL
    /// byte.
    pub fn render(&self) -> Result<SecretString, ProtocolError> {
        let password = self.password.expose_secret();
        for (key, value) in [("username", self.username.as_str()), ("password", password)] {
            if value.contains(['\n', '\r', '\0']) {
                return Err(ProtocolError::BadValue { key });
            }
        }
        let expiry = self
            .expiry
            .map(|expiry| format!("password_expiry_utc={}\n", expiry.unix_timestamp()))
            .unwrap_or_default();
        let text = format!("username={}\npassword={password}\n{expiry}", self.username);
        Ok(SecretString::from(text))
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("expiry", &self.expiry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn parse(text: &str) -> Result<Request, ProtocolError> {
        Request::parse(text.as_bytes())
    }

    #[test]
    fn reads_attributes_up_to_the_blank_line() {
        let request = parse(
            "capability[]=authtype\nprotocol=https\r\nhost=source.developers.google.com\npath=p/r\nusername=u\nwwwauth[]=Basic realm=\"x\"\n\nhost=evil.com\n",
        )
        .unwrap();
        assert_eq!(request.protocol().as_deref(), Some("https"));
        assert_eq!(
            request.host().as_deref(),
            Some("source.developers.google.com")
        );
        assert_eq!(request.path().as_deref(), Some("p/r"));
        assert_eq!(request.username().as_deref(), Some("u"));
        assert_eq!(request.get("wwwauth[]"), Some("Basic realm=\"x\""));
        assert_eq!(request.get("capability[]"), Some("authtype"));
        assert_eq!(request.get("missing"), None);
        assert_eq!(request.attributes().count(), 6);
        assert!(request.is_for(&HostList::git()));
    }

    #[test]
    fn the_end_of_input_ends_a_request_without_a_blank_line() {
        let request = parse("protocol=https\nhost=a.googlesource.com").unwrap();
        assert_eq!(request.host().as_deref(), Some("a.googlesource.com"));
        assert!(request.is_for(&HostList::git()));
        assert_eq!(parse("").unwrap(), Request::default());
        assert_eq!(parse("\n").unwrap(), Request::default());
        assert_eq!(parse("\r\nhost=x\n").unwrap(), Request::default());
    }

    #[test]
    fn later_attributes_win_and_a_url_replaces_every_part() {
        let request = parse("host=a.example\nhost=b.example\n").unwrap();
        assert_eq!(request.host().as_deref(), Some("b.example"));
        assert_eq!(request.get("host"), Some("b.example"));

        let request = parse(
            "protocol=http\nhost=x\npath=old\nusername=old\nurl=https://me@source.developers.google.com:8443/p/repo\n",
        )
        .unwrap();
        assert_eq!(request.protocol().as_deref(), Some("https"));
        assert_eq!(
            request.host().as_deref(),
            Some("source.developers.google.com:8443")
        );
        assert_eq!(request.path().as_deref(), Some("p/repo"));
        assert_eq!(request.username().as_deref(), Some("me"));

        let request = parse("path=old\nusername=old\nurl=https://a.googlesource.com/\n").unwrap();
        assert_eq!(request.host().as_deref(), Some("a.googlesource.com"));
        assert_eq!(request.path(), None);
        assert_eq!(request.username(), None);
        assert!(request.is_for(&HostList::git()));

        // A part after the url wins over the url's.
        let request = parse("url=https://a.googlesource.com/x\nhost=github.com\n").unwrap();
        assert_eq!(request.host().as_deref(), Some("github.com"));
        assert!(!request.is_for(&HostList::git()));
    }

    #[test]
    fn only_listed_hosts_over_https_or_loopback_http() {
        let git = HostList::git();
        let local = HostList::git().with_pattern("127.0.0.1:9418").unwrap();
        let yes = |text: &str, hosts: &HostList| parse(text).unwrap().is_for(hosts);
        assert!(yes(
            "protocol=https\nhost=source.developers.google.com",
            &git
        ));
        assert!(yes("protocol=https\nhost=x.sourcemanager.dev", &git));
        assert!(yes("protocol=http\nhost=127.0.0.1:9418", &local));
        assert!(!yes("protocol=http\nhost=127.0.0.1:9419", &local));
        assert!(!yes(
            "protocol=http\nhost=source.developers.google.com",
            &git
        ));
        assert!(!yes(
            "protocol=ssh\nhost=source.developers.google.com",
            &git
        ));
        assert!(!yes("protocol=https\nhost=github.com", &git));
        assert!(!yes("host=source.developers.google.com", &git));
        assert!(!yes("protocol=https", &git));
        assert!(!yes("protocol=https\nhost=", &git));
        // The protocol is a scheme, not the start of another URL.
        assert!(!yes(
            "protocol=https://source.developers.google.com/?\nhost=evil.com",
            &git
        ));
        // Never a host that would read as something else inside a URL.
        for sneaky in [
            "evil.com@source.developers.google.com",
            "evil.com#.googlesource.com",
            "evil.com/.googlesource.com",
            "evil.com?.googlesource.com",
            "a.googlesource.com\\@evil.com",
            "a.googlesource.com evil.com",
        ] {
            assert!(
                !yes(&format!("protocol=https\nhost={sneaky}"), &git),
                "{sneaky}"
            );
        }
        // A url with user info: the host is the url's host.
        assert!(yes("url=https://evil.com@a.googlesource.com/", &git));
        assert!(!yes("url=https://a.googlesource.com@evil.com/", &git));
        assert!(!yes("url=file:///tmp/repo", &git));
    }

    #[test]
    fn malformed_input_says_which_line_and_never_what_it_holds() {
        let cases: [(&[u8], &str); 6] = [
            (b"protocol=https\nhunter2\n", "line 2"),
            (b"password=hunter2\0\n", "line 1"),
            (b"a=b\npassword=hunter2\rx\n", "line 2"),
            (b"a=b\nb=c\npassword=\xffhunter2\n", "line 3"),
            (b"url=hunter2 not a url\n", "line 1"),
            (b"url=\n", "line 1"),
        ];
        for (input, which) in cases {
            let err = Request::parse(input).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(which), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        assert!(matches!(
            Request::parse(b"x\n"),
            Err(ProtocolError::NotKeyValue { line: 1 })
        ));
        assert!(matches!(
            Request::parse(b"a=\0"),
            Err(ProtocolError::ControlCharacter { line: 1 })
        ));
        assert!(matches!(
            Request::parse(b"a=\xff"),
            Err(ProtocolError::NotUtf8 { line: 1 })
        ));
        assert!(matches!(
            Request::parse(b"url=nope"),
            Err(ProtocolError::BadUrl { line: 1 })
        ));
    }

    #[test]
    fn input_is_bounded() {
        let line = format!("k={}\n", "v".repeat(1021)); // 1024 bytes
        let exactly = line.repeat(MAX_INPUT / 1024);
        assert_eq!(exactly.len(), MAX_INPUT);
        assert_eq!(parse(&exactly).unwrap().attributes().count(), 64);
        let over = format!("{exactly}x");
        assert!(matches!(parse(&over), Err(ProtocolError::TooLong)));
        assert!(
            ProtocolError::TooLong
                .to_string()
                .contains(&MAX_INPUT.to_string())
        );
        // Past the blank line, nothing counts.
        let after = format!("k=v\n\n{}", "x".repeat(MAX_INPUT * 2));
        assert_eq!(parse(&after).unwrap().attributes().count(), 1);
    }

    #[test]
    fn a_failed_read_is_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("pipe broke"))
            }
        }
        let err = Request::read(io::BufReader::new(Broken)).unwrap_err();
        assert!(err.to_string().contains("pipe broke"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(std::error::Error::source(&ProtocolError::TooLong).is_none());
    }

    #[test]
    fn render_round_trips_and_debug_hides_secrets() {
        let text = "protocol=https\nhost=h\npassword=hunter2\nurl=https://x/\nempty=\n=v\n\n";
        let request = parse(text).unwrap();
        assert_eq!(request.render().expose_secret(), text);
        assert_eq!(
            Request::parse(request.render().expose_secret().as_bytes()).unwrap(),
            request
        );
        let debug = format!("{request:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("password=[REDACTED]"), "{debug}");
        assert!(debug.contains("host=h"), "{debug}");
        let debug = format!(
            "{:?}",
            parse("credential=c1\noauth_refresh_token=r1").unwrap()
        );
        assert!(!debug.contains("c1") && !debug.contains("r1"), "{debug}");
    }

    #[test]
    fn answers() {
        let answer = Answer::new(TOKEN_USERNAME, SecretString::from("ya29.t"));
        assert_eq!(answer.username(), "oauth2accesstoken");
        assert_eq!(answer.expiry(), None);
        assert_eq!(
            answer.render().unwrap().expose_secret(),
            "username=oauth2accesstoken\npassword=ya29.t\n"
        );
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_601).unwrap()
            + std::time::Duration::from_millis(500);
        let answer = answer.with_expiry(at);
        assert_eq!(answer.expiry(), Some(at));
        assert!(
            answer
                .render()
                .unwrap()
                .expose_secret()
                .ends_with("password_expiry_utc=1767225601\n")
        );
        let debug = format!("{answer:?}");
        assert!(
            !debug.contains("ya29.t") && debug.contains("oauth2accesstoken"),
            "{debug}"
        );
    }

    #[test]
    fn an_answer_that_the_protocol_cannot_carry_is_an_error() {
        for bad in ["a\nb", "a\rb", "a\0b"] {
            let err = Answer::new("u", SecretString::from(bad))
                .render()
                .unwrap_err();
            assert!(matches!(err, ProtocolError::BadValue { key: "password" }));
            assert!(err.to_string().contains("password"), "{err}");
            let err = Answer::new(bad, SecretString::from("t"))
                .render()
                .unwrap_err();
            assert!(matches!(err, ProtocolError::BadValue { key: "username" }));
        }
    }
}
