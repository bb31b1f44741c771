//! The endpoint policy shared by every transport and request layer: bearer tokens and token
//! requests travel over `https://`, and plain `http://` is allowed only to a loopback host.
//!
//! This module holds the rule itself, as pure functions of already parsed parts: no URL parsing,
//! no DNS, no I/O. A transport applies it to the host of the URL it is about to send to (the
//! reqwest transport after parsing the URL as reqwest does), and the
//! [`AttachPolicy`](crate::authorize::AttachPolicy) of every adapter to the requests it
//! authorizes, so every crate draws the line in the same place.

use std::net::{Ipv4Addr, Ipv6Addr};

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
pub(crate) fn carries_token<'a>(
    scheme: Option<&str>,
    host: impl FnOnce() -> Option<&'a str>,
) -> bool {
    match scheme {
        None => true,
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => host().is_some_and(is_loopback_host),
        Some(_) => false,
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
