//! What the layer and every service it builds share: the credentials and the rules.

use credkit_core::Credentials;
use credkit_core::endpoint::may_carry_token;
use http::Request;
use http::header::AUTHORIZATION;

/// Shared by an [`AuthLayer`](crate::AuthLayer) and its services behind one `Arc`, so a clone
/// of either costs one reference count.
#[derive(Clone, Debug)]
pub(crate) struct Settings<R> {
    pub(crate) credentials: Credentials,
    pub(crate) allow_http: bool,
    pub(crate) overwrite: bool,
    pub(crate) replay: R,
}

impl<R> Settings<R> {
    pub(crate) fn new(credentials: Credentials, replay: R) -> Self {
        Self {
            credentials,
            allow_http: false,
            overwrite: false,
            replay,
        }
    }

    pub(crate) fn with_replay<R2>(self, replay: R2) -> Settings<R2> {
        Settings {
            credentials: self.credentials,
            allow_http: self.allow_http,
            overwrite: self.overwrite,
            replay,
        }
    }

    /// Whether `request` gets the credentials: not when the caller set its own `Authorization`
    /// (unless told to overwrite it), nor when it goes over plain `http://` off loopback
    /// (unless allowed).
    pub(crate) fn authorizes<B>(&self, request: &Request<B>) -> bool {
        if !self.overwrite && request.headers().contains_key(AUTHORIZATION) {
            return false;
        }
        let uri = request.uri();
        self.allow_http || may_carry_token(uri.scheme_str(), uri.host())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_uris_get_a_token() {
        for (uri, yes) in [
            ("https://api.example/v1", true),
            ("http://127.0.0.1:8080/v1", true),
            ("http://[::1]/v1", true),
            ("http://localhost/v1", true),
            ("/pkg.Service/Method", true),
            ("http://api.example/v1", false),
            ("http://127.0.0.1.nip.io/v1", false),
            ("http://10.0.0.1/v1", false),
            ("ftp://127.0.0.1/x", false),
        ] {
            let parsed: http::Uri = uri.parse().unwrap();
            assert_eq!(
                may_carry_token(parsed.scheme_str(), parsed.host()),
                yes,
                "{uri}"
            );
        }
    }
}
