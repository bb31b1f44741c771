//! The endpoint policy shared by every transport and request layer: bearer tokens and token
//! requests travel over `https://`, and plain `http://` is allowed only to a loopback host.
//!
//! This module holds the rule itself, as pure functions of already parsed parts: no URL parsing,
//! no DNS, no I/O. [`AttachPolicy`] adds the rule about a caller's own `Authorization` header,
//! for the wrappers that put credentials on requests. A transport applies it to the host of the URL it is about to send to (the
//! reqwest transport after parsing the URL as reqwest does), so every crate draws the line in
//! the same place.

use std::net::{Ipv4Addr, Ipv6Addr};

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// Whether `host` names this machine's loopback interface, so that plain `http://` to it never
/// leaves the machine.
///
/// Loopback is:
///
/// - an IPv4 address in `127.0.0.0/8`, written in dotted decimal (`127.0.0.1`, `127.1.2.3`);
/// - the IPv6 address `::1`, with or without brackets (`[::1]`, `::1`, or any spelling of it
///   such as `0:0:0:0:0:0:0:1`), and the IPv4-mapped form of a `127.0.0.0/8` address
///   (`::ffff:127.0.0.1`);
/// - the name `localhost`, in any letter case.
///
/// Nothing else is: not `localhost.` with a trailing dot, not subdomains such as
/// `auth.localhost` or `localhost.evil.example`, not `0.0.0.0`, and no other name, since a name
/// is resolved by DNS (or a hosts file), which may answer with any address; this function never
/// asks. A caller that connects to `localhost` should resolve it to `127.0.0.1` and `::1`
/// itself. `host` is the host alone: no port, no user info (`127.0.0.1:8080` is not a host).
/// IPv4 shorthands that some URL parsers accept (`127.1`, `0x7f.0.0.1`) are not recognised
/// here; pass the host as a WHATWG URL parser normalises it (`127.0.0.1`).
///
/// # Examples
///
/// ```
/// use credkit_core::endpoint::is_loopback_host;
///
/// assert!(is_loopback_host("127.0.0.1"));
/// assert!(is_loopback_host("127.4.5.6"));
/// assert!(is_loopback_host("[::1]"));
/// assert!(is_loopback_host("::1"));
/// assert!(is_loopback_host("LocalHost"));
///
/// assert!(!is_loopback_host("localhost.evil.example"));
/// assert!(!is_loopback_host("128.0.0.1"));
/// assert!(!is_loopback_host("oauth2.googleapis.com"));
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'));
    if let Some(inner) = unbracketed {
        return inner.parse::<Ipv6Addr>().is_ok_and(is_loopback_v6);
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip.is_loopback();
    }
    host.parse::<Ipv6Addr>().is_ok_and(is_loopback_v6)
}

/// Whether a request to `scheme` and `host` may carry a bearer token: `https`, plain `http`
/// only to a loopback host, or no scheme at all (a relative URI whose origin the service below
/// picks, as a tonic channel does). Any other scheme gets no token. The scheme is compared
/// without regard to case.
///
/// The one rule the authorizing transport, the tower layer and the reqwest middleware apply.
///
/// ```
/// use credkit_core::endpoint::may_carry_token;
///
/// assert!(may_carry_token(Some("https"), Some("api.example")));
/// assert!(may_carry_token(Some("http"), Some("127.0.0.1")));
/// assert!(may_carry_token(None, None));
/// assert!(!may_carry_token(Some("http"), Some("api.example")));
/// assert!(!may_carry_token(Some("ftp"), Some("127.0.0.1")));
/// ```
pub fn may_carry_token(scheme: Option<&str>, host: Option<&str>) -> bool {
    carries_token(scheme, || host)
}

/// [`may_carry_token`], with the host read only for plain `http` (reading a URI's host parses
/// its authority; `https` does not need it).
fn carries_token<'a>(scheme: Option<&str>, host: impl FnOnce() -> Option<&'a str>) -> bool {
    match scheme {
        None => true,
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => host().is_some_and(is_loopback_host),
        Some(_) => false,
    }
}

/// Which requests an authorizing wrapper puts credentials on: the rules that
/// [`AuthorizedTransport`](crate::AuthorizedTransport), the tower layer and the reqwest
/// middleware share, so all of them decide alike.
///
/// By default a request gets the credentials' headers unless the caller set its own
/// `Authorization` header (kept as it is), or it goes over plain `http://` to a host off
/// loopback ([`may_carry_token`]). Each rule can be lifted.
///
/// ```
/// use credkit_core::endpoint::AttachPolicy;
/// use http::HeaderMap;
///
/// let policy = AttachPolicy::new();
/// let none = HeaderMap::new();
/// assert!(policy.attaches(&none, Some("https"), Some("api.example")));
/// assert!(!policy.attaches(&none, Some("http"), Some("api.example")));
///
/// let mut own = HeaderMap::new();
/// own.insert(http::header::AUTHORIZATION, "Basic dXNlcg==".parse()?);
/// assert!(!policy.attaches(&own, Some("https"), Some("api.example")));
/// assert!(policy.with_overwrite_authorization(true).attaches(&own, Some("https"), Some("api.example")));
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttachPolicy {
    overwrite_authorization: bool,
    allow_http: bool,
}

impl AttachPolicy {
    /// The default rules: keep a caller's `Authorization`, no token over plain `http://` off
    /// loopback.
    pub const fn new() -> Self {
        Self {
            overwrite_authorization: false,
            allow_http: false,
        }
    }

    /// Whether a request whose caller set its own `Authorization` header gets the
    /// credentials' headers instead. Default: `false`.
    #[must_use]
    pub const fn with_overwrite_authorization(mut self, overwrite: bool) -> Self {
        self.overwrite_authorization = overwrite;
        self
    }

    /// Whether a plain `http://` request to a host off loopback gets the token, which anyone
    /// on the path can then read. Default: `false`.
    #[must_use]
    pub const fn dangerous_allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Whether a request with `headers`, to `scheme` and `host` (its URI's parts, `None`
    /// when the URI has none), gets the credentials' headers.
    #[inline]
    pub fn attaches(&self, headers: &HeaderMap, scheme: Option<&str>, host: Option<&str>) -> bool {
        self.attaches_lazily(headers, scheme, || host)
    }

    /// [`attaches`](Self::attaches) for an `http` request.
    #[inline]
    pub fn attaches_to<B>(&self, request: &http::Request<B>) -> bool {
        let uri = request.uri();
        self.attaches_lazily(request.headers(), uri.scheme_str(), || uri.host())
    }

    /// The host is read only when the scheme is plain `http`.
    #[inline]
    fn attaches_lazily<'a>(
        self,
        headers: &HeaderMap,
        scheme: Option<&str>,
        host: impl FnOnce() -> Option<&'a str>,
    ) -> bool {
        if !self.overwrite_authorization && headers.contains_key(AUTHORIZATION) {
            return false;
        }
        self.allow_http || carries_token(scheme, host)
    }
}

/// `::1`, or an IPv4-mapped `127.0.0.0/8` address.
fn is_loopback_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_requests_get_a_token() {
        let policy = AttachPolicy::new();
        for (uri, yes) in [
            ("https://api.example/v1", true),
            ("HTTPS://api.example/v1", true),
            ("http://127.0.0.1:8080/v1", true),
            ("http://[::1]/v1", true),
            ("http://localhost/v1", true),
            ("/pkg.Service/Method", true),
            ("http://api.example/v1", false),
            ("http://127.0.0.1.nip.io/v1", false),
            ("http://10.0.0.1/v1", false),
            ("ftp://127.0.0.1/x", false),
        ] {
            let request = http::Request::get(uri).body(()).unwrap();
            assert_eq!(policy.attaches_to(&request), yes, "{uri}");
            // Allowing http lifts the scheme rule, for every URI.
            assert!(
                policy.dangerous_allow_http(true).attaches_to(&request),
                "{uri}"
            );
        }
    }

    #[test]
    fn a_callers_authorization_is_kept_unless_overwriting() {
        let mut request = http::Request::get("https://api.example/v1")
            .body(())
            .unwrap();
        request
            .headers_mut()
            .insert(AUTHORIZATION, "Basic mine".parse().unwrap());
        let policy = AttachPolicy::new();
        assert!(!policy.attaches_to(&request));
        assert!(!policy.dangerous_allow_http(true).attaches_to(&request));
        let overwriting = policy.with_overwrite_authorization(true);
        assert!(overwriting.attaches_to(&request));
        // Overwriting does not lift the scheme rule.
        *request.uri_mut() = "http://api.example/v1".parse().unwrap();
        assert!(!overwriting.attaches_to(&request));
        assert!(overwriting.dangerous_allow_http(true).attaches_to(&request));
        assert_eq!(AttachPolicy::default(), AttachPolicy::new());
        // The same rules from a URL's parts, as a client whose requests are not `http` ones
        // has them.
        let none = HeaderMap::new();
        assert!(policy.attaches(&none, Some("https"), Some("api.example")));
        assert!(!policy.attaches(&none, Some("http"), Some("api.example")));
        assert!(policy.attaches(&none, Some("http"), Some("127.0.0.1")));
        assert!(!policy.attaches(request.headers(), Some("https"), Some("api.example")));
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.0.0.0",
            "127.255.255.255",
            "127.1.2.3",
            "::1",
            "[::1]",
            "0:0:0:0:0:0:0:1",
            "[0000::0001]",
            "::ffff:127.0.0.1",
            "[::ffff:7f00:1]",
            "[::ffff:127.9.9.9]",
            "localhost",
            "LOCALHOST",
            "LocalHost",
        ] {
            assert!(is_loopback_host(host), "{host} is loopback");
        }
    }

    #[test]
    fn other_hosts() {
        for host in [
            "",
            "[]",
            "128.0.0.1",
            "126.255.255.255",
            "0.0.0.0",
            "10.0.0.1",
            "169.254.169.254",
            "::",
            "[::]",
            "::2",
            "[::ffff:10.0.0.1]",
            "::ffff:128.0.0.1",
            "fe80::1",
            "[::1",
            "::1]",
            "[[::1]]",
            "[127.0.0.1]",
            "127.0.0.1:8080",
            "[::1]:8080",
            "127.1",
            "0x7f.0.0.1",
            "2130706433",
            "127.0.0.1.",
            "localhost.",
            "localhost:80",
            "auth.localhost",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "evil.example",
            " localhost",
            "localhost ",
            "user@localhost",
            "oauth2.googleapis.com",
        ] {
            assert!(!is_loopback_host(host), "{host:?} is not loopback");
        }
    }

    #[test]
    fn which_requests_may_carry_a_token() {
        assert!(may_carry_token(None, None));
        assert!(may_carry_token(None, Some("api.example")));
        for scheme in ["https", "HTTPS", "Https"] {
            assert!(
                may_carry_token(Some(scheme), Some("api.example")),
                "{scheme}"
            );
            assert!(may_carry_token(Some(scheme), None), "{scheme}");
        }
        for scheme in ["http", "HTTP"] {
            assert!(may_carry_token(Some(scheme), Some("127.0.0.1")), "{scheme}");
            assert!(may_carry_token(Some(scheme), Some("[::1]")), "{scheme}");
            assert!(
                !may_carry_token(Some(scheme), Some("api.example")),
                "{scheme}"
            );
            assert!(!may_carry_token(Some(scheme), None), "{scheme}");
        }
        for scheme in ["ftp", "ws", "wss", "file", "httpx", ""] {
            assert!(
                !may_carry_token(Some(scheme), Some("127.0.0.1")),
                "{scheme}"
            );
            assert!(
                !may_carry_token(Some(scheme), Some("api.example")),
                "{scheme}"
            );
        }
    }
}
