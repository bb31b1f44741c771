//! The refresh-token grant (RFC 6749 section 6) exactly as the reference sends it.

use bytes::Bytes;
use credkit_core::{Error, ErrorKind, Result};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The reference's text when a refresh lacks a field (its grammar kept).
pub(crate) const MISSING_FIELDS: &str = "The credentials do not contain the necessary fields need to refresh the access token. You must specify refresh_token, token_uri, client_id, and client_secret.";

/// The reference's text when the endpoint asks for reauthentication and the flow is off.
pub(crate) const REAUTH_NEEDED: &str = "Reauthentication is needed. Please run `gcloud auth application-default login` to reauthenticate.";

/// The reference's universe-domain guard text.
pub(crate) fn universe_error(universe_domain: &str) -> String {
    format!(
        "User credential refresh is only supported in the default googleapis.com universe domain, but the current universe domain is {universe_domain}. If you created the credential with an access token, it's likely that the provided token is expired now, please update your code with a valid token."
    )
}

/// The fields of one refresh request.
pub(crate) struct RefreshGrant<'a> {
    pub(crate) token_uri: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a SecretString,
    pub(crate) refresh_token: &'a SecretString,
    pub(crate) scopes: &'a [String],
    pub(crate) rapt_token: Option<&'a SecretString>,
}

/// The POST request: `content-type: application/x-www-form-urlencoded` and the fields
/// `grant_type`, `client_id`, `client_secret`, `refresh_token`, then `scope` (space-joined) and
/// `rapt` when present, in that order. The body lives in a buffer zeroized when the last reference
/// to it drops.
pub(crate) fn refresh_request(grant: &RefreshGrant<'_>) -> Result<http::Request<Bytes>> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token")
        .append_pair("client_id", grant.client_id)
        .append_pair("client_secret", grant.client_secret.expose_secret())
        .append_pair("refresh_token", grant.refresh_token.expose_secret());
    if !grant.scopes.is_empty() {
        form.append_pair("scope", &grant.scopes.join(" "));
    }
    if let Some(rapt) = grant.rapt_token.filter(|r| !r.expose_secret().is_empty()) {
        form.append_pair("rapt", rapt.expose_secret());
    }
    let body = Zeroizing::new(form.finish().into_bytes());
    http::Request::post(grant.token_uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Bytes::from_owner(body))
        .map_err(|_| {
            Error::new(
                ErrorKind::Configuration,
                "the token_uri is not a valid URL; set a full https:// URL",
            )
        })
}

/// Turns `invalid_grant` with the subtype `invalid_rapt` or `rapt_required` into the reference's
/// "Reauthentication is needed..." error (permanent, keeping status and OAuth fields). The
/// interactive flow is not in this release, so this happens whether or not it is enabled.
pub(crate) fn reauth_needed(err: Error, _reauth_enabled: bool) -> Error {
    let triggered = err.oauth_error() == Some("invalid_grant")
        && matches!(err.error_subtype(), Some("invalid_rapt" | "rapt_required"));
    if !triggered {
        return err;
    }
    let mut reauth = Error::new(ErrorKind::ReauthRequired, REAUTH_NEEDED).with_transient(false);
    if let Some(status) = err.http_status() {
        reauth = reauth.with_http_status(status);
    }
    match err.oauth() {
        Some(oauth) => reauth.with_oauth(oauth.clone()),
        None => reauth,
    }
}

/// Logs the reference's warning when the server granted fewer scopes than requested. Not an
/// error: the token works for what was granted. Missing scopes are listed in request order.
pub(crate) fn warn_on_scope_shortfall(requested: &[String], granted: Option<&[String]>) {
    let Some(granted) = granted else { return };
    if requested.is_empty() {
        return;
    }
    let missing: Vec<&str> = requested
        .iter()
        .filter(|scope| !granted.contains(scope))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            "Not all requested scopes were granted by the authorization server, missing scopes {}.",
            missing.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant<'a>(
        secret: &'a SecretString,
        refresh: &'a SecretString,
        scopes: &'a [String],
        rapt: Option<&'a SecretString>,
    ) -> RefreshGrant<'a> {
        RefreshGrant {
            token_uri: "https://oauth2.googleapis.com/token",
            client_id: "CID",
            client_secret: secret,
            refresh_token: refresh,
            scopes,
            rapt_token: rapt,
        }
    }

    #[test]
    fn body_matches_the_reference_capture() {
        let secret = SecretString::from("CS");
        let refresh = SecretString::from("RT");
        let rapt = SecretString::from("RAPT");
        let scopes = ["email".to_owned(), "profile".to_owned()];
        let request = refresh_request(&grant(&secret, &refresh, &scopes, Some(&rapt))).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(request.headers().len(), 1);
        assert_eq!(
            request.body().as_ref(),
            b"grant_type=refresh_token&client_id=CID&client_secret=CS&refresh_token=RT&scope=email+profile&rapt=RAPT"
        );
    }

    #[test]
    fn optional_fields_are_left_out_and_values_encoded() {
        let secret = SecretString::from("a+b=c/d:e");
        let refresh = SecretString::from("1//rt");
        let empty_rapt = SecretString::from("");
        let request = refresh_request(&grant(&secret, &refresh, &[], Some(&empty_rapt))).unwrap();
        assert_eq!(
            request.body().as_ref(),
            b"grant_type=refresh_token&client_id=CID&client_secret=a%2Bb%3Dc%2Fd%3Ae&refresh_token=1%2F%2Frt"
        );
    }

    #[test]
    fn invalid_uri_is_a_configuration_error() {
        let secret = SecretString::from("s");
        let mut bad = grant(&secret, &secret, &[], None);
        bad.token_uri = "not a uri\n";
        assert_eq!(
            refresh_request(&bad).unwrap_err().kind(),
            ErrorKind::Configuration
        );
    }
}
