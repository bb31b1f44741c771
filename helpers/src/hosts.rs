//! Which hosts a Google token may be sent to.
//!
//! A credential helper is asked for credentials by host: docker for a registry, git for a
//! remote, Bazel for a download. Answering every host would send the token to any server a
//! configuration or a repository names, and whoever runs that server could act as the user
//! until the token expires. So each helper answers only the hosts of a [`HostList`]: Google's
//! own for its service ([`HostList::registries`], [`HostList::git`], [`HostList::apis`]), plus
//! any the user names.
//!
//! A pattern is a host name (`gcr.io`), a wildcard for its subdomains (`*.pkg.dev`, which
//! does not match `pkg.dev` itself), or either with a port (`127.0.0.1:8080`), which then
//! must match too. Host names compare without regard to case or a trailing dot.
//!
//! ```
//! use credkit_helpers::hosts::HostList;
//!
//! let registries = HostList::registries();
//! assert!(registries.allows_url("https://us-docker.pkg.dev/v2/"));
//! assert!(registries.allows_url("gcr.io"));
//! assert!(!registries.allows_url("https://registry.example.com"));
//! // Never over plain http, whose traffic anyone on the path can read.
//! assert!(!registries.allows_url("http://gcr.io"));
//!
//! // A registry of your own, on loopback (plain http is allowed there).
//! let mine = HostList::registries().with_pattern("127.0.0.1:5000")?;
//! assert!(mine.allows_url("http://127.0.0.1:5000/v2/"));
//! # Ok::<(), credkit_helpers::hosts::PatternError>(())
//! ```

use std::fmt;

use url::{Host, Url};

/// Google's container registries: Container Registry (`gcr.io` and its regional hosts) and
/// Artifact Registry (`LOCATION-docker.pkg.dev`).
pub const REGISTRY_PATTERNS: &[&str] = &["gcr.io", "*.gcr.io", "*.pkg.dev"];

/// Google's git hosts: Cloud Source Repositories, Gerrit on googlesource.com and Secure
/// Source Manager.
pub const GIT_PATTERNS: &[&str] = &[
    "source.developers.google.com",
    "*.googlesource.com",
    "*.sourcemanager.dev",
];

/// Google's APIs and the downloads a build fetches from Google: every `*.googleapis.com` API
/// (Cloud Storage among them), the registries, and Cloud Storage's browser host.
pub const API_PATTERNS: &[&str] = &[
    "*.googleapis.com",
    "storage.cloud.google.com",
    "gcr.io",
    "*.gcr.io",
    "*.pkg.dev",
];

/// A list of host patterns a token may be sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostList {
    patterns: Vec<Pattern>,
}

/// One host pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    /// The host in lower case, without a trailing dot; for a wildcard, the part after `*.`.
    host: String,
    /// `*.host`: any subdomain of `host`, not `host` itself.
    wildcard: bool,
    /// The port that must match, when the pattern names one.
    port: Option<u16>,
}

/// A host pattern that is not a host name, a `*.` wildcard of one, or either with a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a host pattern: give a host name (gcr.io), a wildcard of its subdomains (*.pkg.dev) or either with a port (127.0.0.1:5000)",
            self.pattern.escape_debug()
        )
    }
}

impl std::error::Error for PatternError {}

impl HostList {
    /// An empty list: no host is allowed.
    pub fn none() -> Self {
        Self {
            patterns: Vec::new(),
        }
    }

    /// Google's container registries ([`REGISTRY_PATTERNS`]).
    pub fn registries() -> Self {
        Self::of_builtin(REGISTRY_PATTERNS)
    }

    /// Google's git hosts ([`GIT_PATTERNS`]).
    pub fn git() -> Self {
        Self::of_builtin(GIT_PATTERNS)
    }

    /// Google's APIs and registries ([`API_PATTERNS`]).
    pub fn apis() -> Self {
        Self::of_builtin(API_PATTERNS)
    }

    fn of_builtin(patterns: &[&str]) -> Self {
        Self {
            // The built-in patterns are all well formed (a test checks each).
            patterns: patterns.iter().filter_map(|p| Pattern::parse(p)).collect(),
        }
    }

    /// The list with `pattern` added.
    ///
    /// # Errors
    ///
    /// `pattern` is not a host name, a `*.` wildcard of one, or either with a port.
    pub fn with_pattern(mut self, pattern: &str) -> Result<Self, PatternError> {
        let parsed = Pattern::parse(pattern).ok_or_else(|| PatternError {
            pattern: pattern.to_owned(),
        })?;
        self.patterns.push(parsed);
        Ok(self)
    }

    /// Whether a token may be sent to `host`, on `port` when one is known, over `https` (or
    /// plain `http` when `secure` is false, which only a loopback host is allowed).
    pub fn allows(&self, host: &str, port: Option<u16>, secure: bool) -> bool {
        let host = normalize(host);
        if host.is_empty() || (!secure && !is_loopback(&host)) {
            return false;
        }
        self.patterns.iter().any(|p| p.matches(&host, port))
    }

    /// Whether a token may be sent for `text`: a URL (`https://gcr.io/v2/`), or a host with
    /// an optional port and path and no scheme (`us-docker.pkg.dev/project/repo`), taken as
    /// https. Anything that is not such a URL is not allowed.
    pub fn allows_url(&self, text: &str) -> bool {
        let text = text.trim();
        let parsed = if text.contains("://") {
            Url::parse(text)
        } else {
            Url::parse(&format!("https://{text}"))
        };
        let Ok(url) = parsed else {
            return false;
        };
        let secure = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return false,
        };
        let host = match url.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return false,
        };
        self.allows(&host, url.port(), secure)
    }
}

impl Pattern {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (host, port) = if let Some(literal) = rest.strip_prefix('[') {
            // An IPv6 literal, as URLs write it, then an optional port; never a wildcard's.
            let (inside, after) = literal.split_once(']')?;
            let ip = inside.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?.parse::<u16>().ok()?),
            };
            if wildcard {
                return None;
            }
            // As the `url` crate writes it, so that the two compare.
            (format!("[{ip}]"), port)
        } else {
            let (host, port) = match rest.split_once(':') {
                Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
                None => (rest, None),
            };
            let host = normalize(host);
            let valid = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                && !host.starts_with('.')
                && !host.contains("..");
            (valid.then_some(host)?, port)
        };
        Some(Self {
            host,
            wildcard,
            port,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        if self.port.is_some() && self.port != port {
            return false;
        }
        if self.wildcard {
            host.len() > self.host.len() + 1
                && host.ends_with(&self.host)
                && host.as_bytes()[host.len() - self.host.len() - 1] == b'.'
        } else {
            host == self.host
        }
    }
}

/// `host` in lower case, without a trailing dot.
fn normalize(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` (normalized) names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_patterns_are_well_formed() {
        for pattern in REGISTRY_PATTERNS
            .iter()
            .chain(GIT_PATTERNS)
            .chain(API_PATTERNS)
        {
            assert!(Pattern::parse(pattern).is_some(), "{pattern}");
        }
        assert_eq!(
            HostList::registries().patterns.len(),
            REGISTRY_PATTERNS.len()
        );
        assert_eq!(HostList::git().patterns.len(), GIT_PATTERNS.len());
        assert_eq!(HostList::apis().patterns.len(), API_PATTERNS.len());
    }

    #[test]
    fn registries() {
        let list = HostList::registries();
        for yes in [
            "gcr.io",
            "GCR.IO.",
            "https://gcr.io",
            "https://eu.gcr.io/v2/",
            "us-docker.pkg.dev/project/repo",
            "https://europe-west1-docker.pkg.dev:443/v2/",
        ] {
            assert!(list.allows_url(yes), "{yes}");
        }
        for no in [
            "pkg.dev",
            "evilgcr.io",
            "gcr.io.evil.com",
            "https://docker.io",
            "http://gcr.io",
            "ftp://gcr.io",
            "",
            "https://",
            "https://us-docker.pkg.dev@evil.com/",
            "notgcr.io",
            "x.pkg.dev.evil",
        ] {
            assert!(!list.allows_url(no), "{no}");
        }
    }

    #[test]
    fn git_and_apis() {
        assert!(HostList::git().allows("source.developers.google.com", None, true));
        assert!(HostList::git().allows("chromium.googlesource.com", Some(443), true));
        assert!(!HostList::git().allows("googlesource.com", None, true));
        assert!(!HostList::git().allows("github.com", None, true));
        assert!(HostList::apis().allows_url("https://storage.googleapis.com/bucket/object"));
        assert!(!HostList::apis().allows_url("https://googleapis.com.evil.com/"));
        assert!(!HostList::none().allows("gcr.io", None, true));
    }

    #[test]
    fn named_hosts_with_ports_and_plain_http_only_on_loopback() {
        let list = HostList::none()
            .with_pattern("127.0.0.1:5000")
            .unwrap()
            .with_pattern("registry.example.com")
            .unwrap()
            .with_pattern("[::1]:8080")
            .unwrap()
            .with_pattern("localhost")
            .unwrap();
        assert!(list.allows_url("http://127.0.0.1:5000/v2/"));
        assert!(!list.allows_url("http://127.0.0.1:5001/v2/"));
        assert!(!list.allows_url("http://127.0.0.1/v2/"));
        assert!(list.allows_url("https://registry.example.com:8443/"));
        assert!(!list.allows_url("http://registry.example.com/"));
        assert!(list.allows_url("http://[::1]:8080/"));
        assert!(list.allows("localhost", Some(1), false));
        assert!(!list.allows("10.0.0.1", None, false));
    }

    #[test]
    fn ipv6_literals_compare_as_urls_write_them() {
        let list = HostList::none()
            .with_pattern("[0:0::1]")
            .unwrap()
            .with_pattern("[fd00::2]:8080")
            .unwrap();
        assert!(list.allows_url("http://[::1]:1234/"));
        assert!(list.allows("[::1]", None, false));
        assert!(list.allows_url("https://[fd00::2]:8080/"));
        assert!(!list.allows_url("https://[fd00::2]:8081/"));
        assert!(!list.allows_url("https://[fd00::3]:8080/"));
    }

    #[test]
    fn a_wildcard_needs_a_label_before_its_dot() {
        let list = HostList::registries();
        assert!(!list.allows(".pkg.dev", None, true));
        assert!(!list.allows("pkg.dev", None, true));
        assert!(list.allows("a.pkg.dev", None, true));
    }

    #[test]
    fn bad_patterns_say_what_to_give() {
        for bad in [
            "::1",
            "a::80",
            "a:1:2",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[not-ip]",
            "*.[::1]",
            "host_name",
            "",
            "*.",
            "a..b",
            ".gcr.io",
            "gcr.io:port",
            "gcr.io:70000",
            "a b",
            "*",
        ] {
            let err = HostList::none().with_pattern(bad).unwrap_err();
            assert!(err.to_string().contains("host pattern"), "{bad}");
        }
    }
}
