//! ID tokens as tokens: an OpenID Connect ID token (a JWT) becomes an [`AccessToken`] whose
//! expiry is the JWT's own `exp`, so that [`Credentials`](crate::Credentials) cache, share and
//! refresh it ahead like any access token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::oauth::zeroize_json;
use crate::token::validate_token_text;
use crate::{AccessToken, Error, ErrorKind, Result};

impl AccessToken {
    /// An ID token (a JWT) as a bearer token: the secret is the whole JWT (also its
    /// [`id_token`](AccessToken::id_token)), the expiry its `exp` claim and the issue time its
    /// `iat` claim when it has one.
    ///
    /// The claims are read **without verifying the signature**, as the reference library's
    /// `jwt.decode(token, verify=False)` does: the token came straight from its issuer over a
    /// transport the caller trusts, and only its `exp` is needed here. Its recipient verifies
    /// it. Numeric claims may be integers or decimals (truncated to whole seconds). Every
    /// buffer holding the decoded claims is wiped.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::InvalidResponse`] error that never quotes the token: an empty token, one
    /// that cannot go into a header, one that is not three dot-separated segments, a payload
    /// that is not base64url of a JSON object, a missing or non-numeric `exp`, a claim out of
    /// range.
    ///
    /// ```
    /// use base64::Engine as _;
    /// use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    /// use credkit_core::AccessToken;
    ///
    /// let payload = URL_SAFE_NO_PAD.encode(r#"{"aud":"https://run.app","iat":1767225600,"exp":1767229200}"#);
    /// let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
    /// let token = AccessToken::from_id_token(jwt.as_str())?;
    /// assert_eq!(token.expiry().map(|t| t.unix_timestamp()), Some(1_767_229_200));
    /// assert_eq!(token.issued_at().map(|t| t.unix_timestamp()), Some(1_767_225_600));
    /// assert!(token.id_token().is_some());
    ///
    /// let err = AccessToken::from_id_token("not-a-jwt").unwrap_err();
    /// assert_eq!(err.to_string(), "the ID token is not a JWT (three segments separated by dots)");
    /// # Ok::<(), credkit_core::Error>(())
    /// ```
    pub fn from_id_token(jwt: impl Into<SecretString>) -> Result<Self> {
        let jwt = jwt.into();
        let text = jwt.expose_secret();
        validate_token_text(text, "ID token")?;
        let times =
            claim_times(text).map_err(|reason| Error::new(ErrorKind::InvalidResponse, reason))?;
        let mut token = Self::from_secret(jwt.clone())
            .with_id_token(jwt)
            .with_expiry(times.expiry);
        if let Some(issued_at) = times.issued_at {
            token = token.with_issued_at(issued_at);
        }
        Ok(token)
    }
}

/// The instants an ID token's claims name.
struct ClaimTimes {
    expiry: OffsetDateTime,
    issued_at: Option<OffsetDateTime>,
}

/// `exp` and `iat` of a JWT's unverified payload; a reason that never quotes it on failure.
fn claim_times(jwt: &str) -> std::result::Result<ClaimTimes, &'static str> {
    let mut segments = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err("the ID token is not a JWT (three segments separated by dots)");
    };
    let decoded = Zeroizing::new(
        URL_SAFE_NO_PAD_INDIFFERENT
            .decode(payload)
            .map_err(|_| "the ID token's payload is not base64url")?,
    );
    let mut claims: Value = serde_json::from_slice(&decoded)
        .map_err(|_| "the ID token's payload is not a JSON object of claims")?;
    let times = read_times(&claims);
    zeroize_json(&mut claims);
    times
}

fn read_times(claims: &Value) -> std::result::Result<ClaimTimes, &'static str> {
    let Value::Object(claims) = claims else {
        return Err("the ID token's payload is not a JSON object of claims");
    };
    let exp = claims.get("exp").ok_or("the ID token has no `exp` claim")?;
    let expiry =
        instant(exp).ok_or("the ID token's `exp` claim is not a number of seconds in range")?;
    let issued_at = match claims.get("iat") {
        None | Some(Value::Null) => None,
        Some(iat) => Some(
            instant(iat).ok_or("the ID token's `iat` claim is not a number of seconds in range")?,
        ),
    };
    Ok(ClaimTimes { expiry, issued_at })
}

/// Seconds since the epoch (an integer, or a finite decimal truncated) as an instant.
fn instant(value: &Value) -> Option<OffsetDateTime> {
    let seconds = value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(truncate))?;
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// Whole seconds of a finite `f64`, saturating (as `as` does).
#[allow(clippy::cast_possible_truncation)] // Saturating truncation is the intent.
fn truncate(seconds: f64) -> i64 {
    seconds as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    fn jwt(claims: &str) -> String {
        format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    fn message(jwt: &str) -> String {
        let err = AccessToken::from_id_token(jwt).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(!err.to_string().contains("c2lnbmF0dXJl"), "{err}");
        err.to_string()
    }

    #[test]
    fn the_whole_jwt_is_the_secret_and_the_id_token() {
        let text = jwt(r#"{"exp":1700003600,"iat":1700000000,"sub":"1"}"#);
        let token = AccessToken::from_id_token(text.as_str()).unwrap();
        assert_eq!(token.secret().expose_secret(), text);
        assert_eq!(token.id_token().unwrap().expose_secret(), text);
        assert_eq!(token.expiry().unwrap().unix_timestamp(), 1_700_003_600);
        assert_eq!(token.issued_at().unwrap().unix_timestamp(), 1_700_000_000);
        assert_eq!(token.token_type(), "Bearer");
    }

    #[test]
    fn numeric_claims_may_be_decimals_and_iat_is_optional() {
        let token = AccessToken::from_id_token(jwt(r#"{"exp":1700003600.9}"#)).unwrap();
        assert_eq!(token.expiry().unwrap().unix_timestamp(), 1_700_003_600);
        assert_eq!(token.issued_at(), None);
        let token = AccessToken::from_id_token(jwt(r#"{"exp":5,"iat":null}"#)).unwrap();
        assert_eq!(token.issued_at(), None);
        // Padding is tolerated, as some issuers send it.
        let padded = format!(
            "e30.{}.c2ln",
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"exp":50}"#)
        );
        assert_eq!(
            AccessToken::from_id_token(padded)
                .unwrap()
                .expiry()
                .unwrap()
                .unix_timestamp(),
            50
        );
    }

    #[test]
    fn every_malformed_token_says_why_without_quoting_it() {
        assert_eq!(message(""), "the ID token is empty");
        assert!(message("a.b c.d").contains("whitespace"));
        for wrong in ["c2lnbmF0dXJl", "a.c2lnbmF0dXJl", "a.b.c.c2lnbmF0dXJl"] {
            assert_eq!(
                message(wrong),
                "the ID token is not a JWT (three segments separated by dots)"
            );
        }
        assert_eq!(
            message("e30.***.c2lnbmF0dXJl"),
            "the ID token's payload is not base64url"
        );
        let not_json = format!("e30.{}.c2lnbmF0dXJl", b64("nope"));
        assert_eq!(
            message(&not_json),
            "the ID token's payload is not a JSON object of claims"
        );
        assert_eq!(
            message(&jwt("[1]")),
            "the ID token's payload is not a JSON object of claims"
        );
        assert_eq!(message(&jwt("{}")), "the ID token has no `exp` claim");
        for exp in [r#""soon""#, "1e300", "-1e300", "null", "99999999999999"] {
            assert_eq!(
                message(&jwt(&format!(r#"{{"exp":{exp}}}"#))),
                "the ID token's `exp` claim is not a number of seconds in range",
                "{exp}"
            );
        }
        assert_eq!(
            message(&jwt(r#"{"exp":5,"iat":"now"}"#)),
            "the ID token's `iat` claim is not a number of seconds in range"
        );
    }
}
