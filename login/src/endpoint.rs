//! The one rule for the endpoints a login talks to.

use credkit_core::Result;
use credkit_core::endpoint::may_carry_token;
use url::Url;

use crate::error;

/// `uri` as a URL a login may send a code, a secret or a token to: `https://`, or `http://`
/// to a loopback host (a test server, a local proxy). `what` names the endpoint in the error.
pub(crate) fn checked(uri: &str, what: &'static str) -> Result<Url> {
    let url = Url::parse(uri).map_err(|_| error::bad_endpoint(what))?;
    if url.cannot_be_a_base() || !may_carry_token(Some(url.scheme()), url.host_str()) {
        return Err(error::bad_endpoint(what));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_only() {
        for good in [
            "https://oauth2.googleapis.com/token",
            "http://127.0.0.1:8080/token",
            "http://localhost/token",
            "http://[::1]:9/x",
        ] {
            assert!(checked(good, "token endpoint").is_ok(), "{good}");
        }
        for bad in [
            "http://example.com/token",
            "ftp://127.0.0.1/x",
            "not a url",
            "mailto:a@b",
            "http://127.0.0.1@evil.example/",
        ] {
            let err = checked(bad, "token endpoint").unwrap_err();
            assert!(
                err.to_string().starts_with("the token endpoint"),
                "{bad}: {err}"
            );
            assert!(!err.to_string().contains(bad), "{bad}");
        }
    }
}
