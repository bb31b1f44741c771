//! The token-endpoint URL policy: `https://` everywhere, plain `http://` only on loopback.

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
/// 5. Every other scheme (`ftp`, `file`, `ws`, `data`, ...) is refused.
///
/// A query string or fragment is allowed; neither appears in the error messages.
///
/// # Errors
///
/// A permanent error of kind [`Configuration`](credkit_core::ErrorKind::Configuration) that
/// names the rule broken. The message never repeats the URL's user info, path or query.
pub fn check_endpoint(url: &str) -> Result<Url> {
    let parsed = Url::parse(url).map_err(error::invalid_url)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(error::credentials_in_url());
    }
    match parsed.scheme() {
        // The URL parser gives every `https` URL a host (it refuses an empty one).
        "https" => Ok(parsed),
        "http" if is_loopback_url(&parsed) => Ok(parsed),
        "http" => Err(error::plain_http(&host_for_message(&parsed))),
        scheme => Err(error::unsupported_scheme(scheme)),
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
    fn origin_and_host_for_messages() {
        let url = Url::parse("https://u:p@Example.COM:8443/p?q=1").unwrap();
        assert_eq!(origin_for_message(&url), "https://example.com:8443");
        let url = Url::parse("http://[::1]/").unwrap();
        assert_eq!(host_for_message(&url), "[::1]");
    }
}
