//! `AttachPolicy`: which requests get the credentials.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::endpoint::carries_token;

/// Which requests an authorizing wrapper puts credentials on: the rules that
/// [`Authorizer`](super::Authorizer) applies for every adapter, so all of them decide alike.
///
/// By default a request gets the credentials' headers unless the caller set its own
/// `Authorization` header (kept as it is), or it goes over plain `http://` to a host off
/// loopback ([`may_carry_token`](crate::endpoint::may_carry_token)). Each rule can be lifted.
///
/// ```
/// use credkit_core::authorize::AttachPolicy;
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
}
