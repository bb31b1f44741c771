//! The token-endpoint URL policy: `https://` everywhere, plain `http://` only on loopback and
//! to the metadata server (exactly `169.254.169.254` and `metadata.google.internal`, plus the
//! hosts a transport was told to allow).

use credkit_core::Result;
use credkit_core::endpoint::is_loopback_host;
use reqwest::Url;

use crate::error;

/// Checks that `url` is an acceptable token endpoint and returns it parsed.
///
/// # Examples
///
/// ```
/// use credkit_core::ErrorKind;
/// use credkit_reqwest::check_endpoint;
///
/// assert!(check_endpoint("https://oauth2.googleapis.com/token").is_ok());
/// assert!(check_endpoint("http://127.0.0.1:8080/token").is_ok());
/// assert!(check_endpoint("http://[::1]:8080/token").is_ok());
/// assert!(check_endpoint("http://localhost:8080/token").is_ok());
///
/// // The metadata server: plain http to exactly these two hosts.
/// assert!(check_endpoint("http://169.254.169.254/computeMetadata/v1/").is_ok());
/// assert!(check_endpoint("http://metadata.google.internal/computeMetadata/v1/").is_ok());
/// assert!(check_endpoint("http://169.254.169.253/").is_err());
/// assert!(check_endpoint("http://metadata.google.internal.evil.example/").is_err());
///
/// let err = check_endpoint("http://oauth2.googleapis.com/token").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Configuration);
/// assert!(!err.is_transient());
///
/// // The host here is evil.example; 127.0.0.1 is only a user name.
/// assert!(check_endpoint("http://127.0.0.1@evil.example/token").is_err());
/// ```
///
/// The URL is parsed as browsers and reqwest parse it (the WHATWG URL standard), so the check
/// and the request always agree on the host. The rules, in order:
///
/// 1. It must parse as an absolute URL.
/// 2. It must not carry a user name or password (`https://user:pass@host/`), whatever the scheme:
///    credentials in a URL end up in logs, and a user name is the classic way to make a URL
///    *look* like it goes to `127.0.0.1` when it does not.
/// 3. `https` (in any letter case) is accepted for any host.
/// 4. `http` is accepted only for a loopback host, by
///    [`credkit_core::endpoint::is_loopback_host`] on the host as parsed:
///    - an IPv4 address in `127.0.0.0/8`, in any form the URL standard accepts
///      (`127.1.2.3`, `127.1`, `0x7f.0.0.1` all name loopback addresses);
///    - the IPv6 address `::1`, or the IPv4-mapped form of a `127.0.0.0/8` address
///      (`::ffff:127.0.0.1`);
///    - the name `localhost` exactly (in any letter case). Not `localhost.` with a trailing dot,
///      and not subdomains such as `auth.localhost` or `localhost.evil.example`: those go through
///      DNS, which may answer with any address. The transport connects to `localhost` itself
///      without asking DNS (see [`ReqwestTransport`](crate::ReqwestTransport)).
/// 5. `http` is also accepted for the metadata server of Google Compute Engine, GKE and Cloud
///    Run, which answers only plain http on a link-local address: the host must be exactly
///    the IPv4 address `169.254.169.254` (in any form the URL standard accepts, since it
///    normalises them all to that address) or exactly the name `metadata.google.internal` (in
///    any letter case), on any port. Nothing wider: not the rest of `169.254.0.0/16`, not
///    other `*.internal` names, not `metadata.google.internal.` with a trailing dot, not
///    `metadata.google.internal.evil.example`. A metadata server somewhere else (the
///    `GCE_METADATA_HOST` environment variable names one) is allowed only on a transport built
///    with [`allow_plain_http_host`](crate::ReqwestTransportBuilder::allow_plain_http_host).
/// 6. Every other scheme (`ftp`, `file`, `ws`, `data`, ...) is refused.
///
/// A query string or fragment is allowed; neither appears in the error messages.
///
/// # Errors
///
/// A permanent error of kind [`Configuration`](credkit_core::ErrorKind::Configuration) that
/// names the rule broken. The message never repeats the URL's user info, path or query.
pub fn check_endpoint(url: &str) -> Result<Url> {
    check_endpoint_allowing(url, &[])
}

/// The metadata server's two hosts, to which plain `http` is allowed (rule 5 of
/// [`check_endpoint`]), as the URL parser spells them.
pub(crate) const METADATA_HOSTS: [&str; 2] = ["169.254.169.254", "metadata.google.internal"];

/// [`check_endpoint`], with plain `http` allowed to the `extra` hosts too.
pub(crate) fn check_endpoint_allowing(url: &str, extra: &[PlainHttpHost]) -> Result<Url> {
    let parsed = Url::parse(url).map_err(error::invalid_url)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(error::credentials_in_url());
    }
    match parsed.scheme() {
        // The URL parser gives every `https` URL a host (it refuses an empty one).
        "https" => Ok(parsed),
        "http" if is_direct_url(&parsed, extra) => Ok(parsed),
        "http" => Err(error::plain_http(&host_for_message(&parsed))),
        scheme => Err(error::unsupported_scheme(scheme)),
    }
}

/// Whether `url` goes to a host that plain `http` may reach: loopback, the metadata server, or
/// one of `extra`. Such requests never go through a proxy.
pub(crate) fn is_direct_url(url: &Url, extra: &[PlainHttpHost]) -> bool {
    is_loopback_url(url)
        || url
            .host_str()
            .is_some_and(|host| METADATA_HOSTS.contains(&host))
        || extra.iter().any(|allowed| allowed.matches(url))
}

/// A host (and perhaps a port) a transport was told to allow plain `http` to, normalised as the
/// URL parser normalises hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlainHttpHost {
    host: String,
    port: Option<u16>,
}

impl std::fmt::Display for PlainHttpHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

impl PlainHttpHost {
    /// Parses `host` or `host:port` (as `GCE_METADATA_HOST` holds it). `None` for anything
    /// else: empty, a user name, a path, a query, or what does not parse as a host.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        if value.is_empty() || value.contains(['/', '?', '#', '@', '\\']) {
            return None;
        }
        let url = Url::parse(&format!("http://{value}/")).ok()?;
        let host = url.host_str()?.to_owned();
        Some(Self {
            host,
            port: url.port(),
        })
    }

    /// The host as the URL parser spells it, for resolving names.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// Whether `url` goes to this host (and port, if one was given; `http`'s default port 80
    /// when the URL names none).
    fn matches(&self, url: &Url) -> bool {
        url.host_str() == Some(self.host.as_str())
            && self
                .port
                .is_none_or(|port| url.port_or_known_default() == Some(port))
    }
}

/// Whether `url`'s host is a loopback host under the policy of [`check_endpoint`]. The URL
/// parser has already normalised the host: IPv4 in dotted decimal (so `127.1` and `0x7f.0.0.1`
/// arrive as `127.0.0.1`), IPv6 in brackets, domains in lower case.
pub(crate) fn is_loopback_url(url: &Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

/// The host (and port) of `url`, for an error message: never its user info, path or query.
pub(crate) fn host_for_message(url: &Url) -> String {
    match (url.host(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => "a URL without a host".to_owned(),
    }
}

/// The origin of `url` (`scheme://host:port`), for an error message.
pub(crate) fn origin_for_message(url: &Url) -> String {
    format!("{}://{}", url.scheme(), host_for_message(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_https_url_has_a_host() {
        for url in ["https:///token", "https:token", "https://h/"] {
            let parsed = check_endpoint(url).unwrap();
            assert!(parsed.host().is_some(), "{url}");
        }
        for url in ["https://", "https:///", "https://:443/"] {
            assert!(check_endpoint(url).is_err(), "{url}");
        }
    }

    #[test]
    fn messages_never_repeat_user_info_path_or_query() {
        for url in [
            "http://alice:hunter2@evil.example/secret-path?token=abc",
            "ftp://alice:hunter2@evil.example/secret-path?token=abc",
            "http://evil.example/secret-path?token=abc",
            "gopher://evil.example/secret-path?token=abc",
        ] {
            let message = check_endpoint(url).unwrap_err().to_string();
            for secret in ["hunter2", "alice", "secret-path", "token=abc"] {
                assert!(!message.contains(secret), "{url}: {message}");
            }
        }
    }

    #[test]
    fn plain_http_hosts_parse_as_hosts_only() {
        let host = PlainHttpHost::parse("Metadata.Example:8080").unwrap();
        assert_eq!(host.host(), "metadata.example");
        assert_eq!(host.port, Some(8080));
        assert_eq!(host.to_string(), "metadata.example:8080");
        assert_eq!(PlainHttpHost::parse("10.0.0.5").unwrap().port, None);
        assert_eq!(
            PlainHttpHost::parse("10.0.0.5").unwrap().to_string(),
            "10.0.0.5"
        );
        for bad in [
            "",
            "a/b",
            "a?b",
            "a#b",
            "user@host",
            "a\\b",
            "host:notaport",
            "[::1",
        ] {
            assert_eq!(PlainHttpHost::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_allowed_host_matches_its_port_or_any() {
        let any = [PlainHttpHost::parse("mds.example").unwrap()];
        let one = [PlainHttpHost::parse("mds.example:8080").unwrap()];
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(is_direct_url(&url("http://mds.example:1234/"), &any));
        assert!(is_direct_url(&url("http://mds.example:8080/"), &one));
        assert!(!is_direct_url(&url("http://mds.example:8081/"), &one));
        assert!(!is_direct_url(&url("http://mds.example/"), &one));
        let eighty = [PlainHttpHost::parse("mds.example:80").unwrap()];
        assert!(is_direct_url(&url("http://mds.example/"), &eighty));
        assert!(!is_direct_url(&url("http://mds.example.evil/"), &any));
        assert!(!is_direct_url(&url("http://evil.example/"), &any));
        assert!(check_endpoint_allowing("http://mds.example:8080/x", &one).is_ok());
        assert!(check_endpoint_allowing("http://mds.example:9/x", &one).is_err());
        assert!(check_endpoint("http://mds.example:8080/x").is_err());
    }

    #[test]
    fn origin_and_host_for_messages() {
        let url = Url::parse("https://u:p@Example.COM:8443/p?q=1").unwrap();
        assert_eq!(origin_for_message(&url), "https://example.com:8443");
        let url = Url::parse("http://[::1]/").unwrap();
        assert_eq!(host_for_message(&url), "[::1]");
    }
}
