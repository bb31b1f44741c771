//! Where the IAM Credentials API is: one pure function per rule, no I/O.
//!
//! 1. The API lives at `https://iamcredentials.{universe}` (the reference replaces the default
//!    domain in its URL templates with the credentials' universe domain).
//! 2. A base URL override (a regional endpoint, a test's fake) replaces that origin for every
//!    method; the path stays `/v1/projects/-/serviceAccounts/{principal}:{method}`.
//! 3. The reference's `iam_endpoint_override` is a full URL for `generateAccessToken` alone,
//!    and wins over both.

use credkit_core::BuildError;

/// The universe domain of Google Cloud's public APIs.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// The OAuth 2.0 token endpoint the JWT-bearer grant of domain-wide delegation goes to (and
/// the `aud` of its assertion).
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The scope a source needs to call the IAM Credentials API, to which a service-account source
/// is narrowed (as the reference does with every scoped source).
pub const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";

/// The scope asked for when none is given: the Rust peer's default.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The IAM origin of `universe`: `https://iamcredentials.{universe}`.
pub(crate) fn origin(universe: &str) -> String {
    format!("https://iamcredentials.{universe}")
}

/// The URL of `method` for `principal` under `base` (an origin without a trailing `/`).
pub(crate) fn method_url(base: &str, principal: &str, method: &str) -> String {
    format!("{base}/v1/projects/-/serviceAccounts/{principal}:{method}")
}

/// A universe domain is a DNS name: letters, digits, `-` and `.`, not empty.
pub(crate) fn check_universe(domain: &str) -> Result<(), BuildError> {
    let ok = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(BuildError::invalid_value(
            "the universe domain must be a DNS name such as googleapis.com",
        ))
    }
}

/// A principal (or delegate) goes into a URL path: not empty, no `/`, `?`, `#`, `%`, space or
/// control character.
pub(crate) fn check_principal(principal: &str) -> Result<(), BuildError> {
    let ok = !principal.is_empty()
        && !principal
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(BuildError::invalid_value(
            "the target principal must be a service account's email (or unique ID), with no \
             `/`, `?`, `#`, `%` or whitespace",
        ))
    }
}

/// An override URL: `http` or `https`, with a host, no query or fragment. Returns it without a
/// trailing `/` when `origin_only` (a base); as given otherwise (a full endpoint).
pub(crate) fn check_url(url: &str, what: &str, origin_only: bool) -> Result<String, BuildError> {
    let invalid = || {
        BuildError::invalid_value(format!(
            "the {what} must be an absolute http(s) URL without a query or fragment"
        ))
    };
    let uri: http::Uri = url.parse().map_err(|_| invalid())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || uri.query().is_some() {
        return Err(invalid());
    }
    if url.contains('#') {
        return Err(invalid());
    }
    Ok(if origin_only {
        url.trim_end_matches('/').to_owned()
    } else {
        url.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_universe() {
        assert_eq!(
            method_url(
                &origin("googleapis.com"),
                "sa@p.iam.gserviceaccount.com",
                "generateAccessToken"
            ),
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
        );
        assert_eq!(
            method_url(&origin("example.goog"), "x", "signBlob"),
            "https://iamcredentials.example.goog/v1/projects/-/serviceAccounts/x:signBlob"
        );
    }

    #[test]
    fn universes_are_dns_names() {
        assert!(check_universe("googleapis.com").is_ok());
        assert!(check_universe("my-universe.example").is_ok());
        for bad in ["", "a/b", "a b", "evil.com/x?", "a:1"] {
            assert!(check_universe(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn principals_fit_in_a_path() {
        assert!(check_principal("sa@p.iam.gserviceaccount.com").is_ok());
        assert!(check_principal("1234567890").is_ok());
        for bad in ["", "a/b", "a?b", "a#b", "a%2F", "a b", "a\nb"] {
            let err = check_principal(bad).unwrap_err();
            assert!(err.is_invalid_value(), "{bad}");
        }
    }

    #[test]
    fn overrides_are_absolute_urls() {
        assert_eq!(
            check_url("http://127.0.0.1:8080/", "base URL", true).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            check_url("https://x.example/v1/a:generateAccessToken", "u", false).unwrap(),
            "https://x.example/v1/a:generateAccessToken"
        );
        assert_eq!(
            check_url("https://x.example/", "u", false).unwrap(),
            "https://x.example/"
        );
        for bad in [
            "",
            "x.example",
            "/v1/x",
            "ftp://x.example",
            "https://x.example/?a=1",
            "https://x.example/#f",
            "https:///path",
        ] {
            let err = check_url(bad, "base URL", true).unwrap_err();
            assert!(err.to_string().contains("base URL"), "{bad}: {err}");
        }
    }
}
