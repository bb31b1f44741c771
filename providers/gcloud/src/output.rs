//! Turning gcloud's standard output into a token. A failure is a reason that never quotes the
//! output (it may hold a token).

use std::time::Duration;

use credkit_core::AccessToken;
use secrecy::SecretString;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The part of `gcloud config config-helper --format=json`'s document credkit reads.
#[derive(Deserialize)]
struct ConfigHelper {
    credential: Credential,
}

#[derive(Deserialize)]
struct Credential {
    access_token: Option<SecretString>,
    token_expiry: Option<String>,
    id_token: Option<SecretString>,
}

/// The token in config-helper's JSON document, with its `token_expiry` and no issue time:
/// gcloud hands out a cached token, so when it was issued is unknown, and taking `started` would
/// make a token with a minute left look like a fresh one-minute token (the caching layer scales
/// its threshold to a known lifetime). The full refresh threshold applies instead.
///
/// A missing or unreadable `token_expiry` is not fatal: the token gets `fallback_lifetime` from
/// `started`, as from `print-access-token`. A token already expired at `now` is refused.
pub(crate) fn from_config_helper(
    stdout: &[u8],
    started: OffsetDateTime,
    now: OffsetDateTime,
    fallback_lifetime: Duration,
) -> Result<AccessToken, String> {
    let document: ConfigHelper = serde_json::from_slice(stdout).map_err(|e| {
        // The category and position only: serde's message may quote the input.
        let what = match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "JSON of an unexpected shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        format!(
            "its output is {what} (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let credential = document.credential;
    let secret = credential
        .access_token
        .ok_or("its output has no credential.access_token")?;
    let validated = AccessToken::validated(secret)
        .map_err(|e| format!("its credential.access_token is unusable: {e}"))?;

    let expiry = credential
        .token_expiry
        .as_deref()
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok());
    let token = match expiry {
        Some(expiry) if expiry <= now => {
            return Err("the token it reports has already expired".to_owned());
        }
        Some(expiry) => validated.with_expiry(expiry),
        None => {
            tracing::debug!(
                "gcloud config config-helper reported no readable token_expiry; assuming the fallback lifetime"
            );
            validated.with_lifetime(started, fallback_lifetime)
        }
    };
    Ok(match credential.id_token {
        // An ID token is kept only when it obeys the same header rule as an access token.
        Some(id_token) if AccessToken::validated(id_token.clone()).is_ok() => {
            token.with_id_token(id_token)
        }
        _ => token,
    })
}

/// The token `gcloud auth print-access-token` printed: one line, trimmed, that can go into an
/// HTTP header. gcloud does not say when it expires, so it gets `lifetime` from `started`.
pub(crate) fn from_print_access_token(
    stdout: &[u8],
    started: OffsetDateTime,
    lifetime: Duration,
) -> Result<AccessToken, String> {
    let line = one_line(stdout)?;
    let token =
        AccessToken::validated(line).map_err(|e| format!("what it printed is unusable: {e}"))?;
    Ok(token.with_lifetime(started, lifetime))
}

/// The ID token `gcloud auth print-identity-token` printed: one line, trimmed, a JWT whose
/// `exp` is its expiry (see [`AccessToken::from_id_token`]).
pub(crate) fn from_print_identity_token(stdout: &[u8]) -> Result<AccessToken, String> {
    let line = one_line(stdout)?;
    AccessToken::from_id_token(line).map_err(|e| format!("what it printed is unusable: {e}"))
}

/// The one line a command printed, trimmed; the reason when it printed something else.
fn one_line(stdout: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(stdout).map_err(|_| "its output is not UTF-8".to_owned())?;
    let line = text.trim_ascii();
    if line.is_empty() {
        return Err("it printed nothing".to_owned());
    }
    if line.contains(['\n', '\r']) {
        return Err("it printed more than one line".to_owned());
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use secrecy::ExposeSecret;

    use super::*;

    const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
    const FALLBACK: Duration = Duration::from_secs(300);

    fn helper(stdout: &str) -> Result<AccessToken, String> {
        from_config_helper(stdout.as_bytes(), START, START, FALLBACK)
    }

    #[test]
    fn config_helper_document() {
        let token = helper(
            r#"{"configuration": {}, "credential": {"access_token": "ya29.a", "token_expiry": "2026-01-01T01:00:00Z", "id_token": "eyJ.x.y"}, "sentinels": {}}"#,
        )
        .unwrap();
        assert_eq!(token.secret().expose_secret(), "ya29.a");
        assert_eq!(token.expiry(), Some(datetime!(2026-01-01 1:00 UTC)));
        assert_eq!(token.issued_at(), None);
        assert_eq!(token.id_token().unwrap().expose_secret(), "eyJ.x.y");
    }

    #[test]
    fn expiry_with_offset_and_fraction() {
        let token = helper(
            r#"{"credential": {"access_token": "ya29.a", "token_expiry": "2026-01-01T02:00:00.5+01:00"}}"#,
        )
        .unwrap();
        assert_eq!(token.expiry(), Some(datetime!(2026-01-01 1:00:00.5 UTC)));
        assert!(token.id_token().is_none());
    }

    #[test]
    fn missing_or_bad_expiry_gets_the_fallback_lifetime() {
        for doc in [
            r#"{"credential": {"access_token": "ya29.a"}}"#,
            r#"{"credential": {"access_token": "ya29.a", "token_expiry": "tomorrow"}}"#,
            r#"{"credential": {"access_token": "ya29.a", "token_expiry": null}}"#,
        ] {
            let token = helper(doc).unwrap();
            assert_eq!(token.lifetime(), Some(FALLBACK), "{doc}");
        }
    }

    #[test]
    fn unusable_documents_say_why_without_quoting() {
        let cases = [
            ("", "truncated JSON"),
            ("ya29.secret-token", "not valid JSON"),
            (r#"{"credential": {"access_token": 7}}"#, "unexpected shape"),
            (r#"{"configuration": {}}"#, "unexpected shape"),
            (r#"{"credential": {}}"#, "no credential.access_token"),
            (
                r#"{"credential": {"access_token": "ya29.two words"}}"#,
                "unusable",
            ),
            (
                r#"{"credential": {"access_token": "ya29.a", "token_expiry": "2025-12-31T23:59:59Z"}}"#,
                "already expired",
            ),
            (
                r#"{"credential": {"access_token": "ya29.a", "token_expiry": "2026-01-01T00:00:00Z"}}"#,
                "already expired",
            ),
        ];
        for (doc, reason) in cases {
            let err = helper(doc).unwrap_err();
            assert!(err.contains(reason), "{doc}: {err}");
            assert!(!err.contains("ya29"), "{err}");
        }
    }

    #[test]
    fn invalid_id_token_is_dropped_not_fatal() {
        let token =
            helper(r#"{"credential": {"access_token": "ya29.a", "id_token": "bad id"}}"#).unwrap();
        assert!(token.id_token().is_none());
    }

    #[test]
    fn print_identity_token_output() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"aud":"https://run.app","exp":1767229200,"iat":1767225600}"#);
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl");
        let token = from_print_identity_token(format!("{jwt}\n").as_bytes()).unwrap();
        assert_eq!(token.secret().expose_secret(), jwt);
        assert_eq!(token.expiry(), Some(datetime!(2026-01-01 1:00 UTC)));
        assert_eq!(token.issued_at(), Some(datetime!(2026-01-01 0:00 UTC)));

        for (out, reason) in [
            (b"".to_vec(), "printed nothing"),
            (
                format!("WARNING: x\n{jwt}").into_bytes(),
                "more than one line",
            ),
            (b"ya29.not-a-jwt-c2lnbmF0dXJl".to_vec(), "not a JWT"),
            (b"a.b c.c2lnbmF0dXJl".to_vec(), "whitespace"),
        ] {
            let err = from_print_identity_token(&out).unwrap_err();
            assert!(err.starts_with("what it printed is unusable") || err.contains(reason));
            assert!(err.contains(reason), "{err}");
            assert!(!err.contains("c2lnbmF0dXJl"), "{err}");
        }
    }

    #[test]
    fn print_access_token_output() {
        let token = from_print_access_token(b"ya29.tok\n", START, FALLBACK).unwrap();
        assert_eq!(token.secret().expose_secret(), "ya29.tok");
        assert_eq!(token.expiry(), Some(START + FALLBACK));
        assert_eq!(token.issued_at(), Some(START));
        let token = from_print_access_token(b"  ya29.tok\r\n", START, FALLBACK).unwrap();
        assert_eq!(token.secret().expose_secret(), "ya29.tok");

        for (out, reason) in [
            (&b""[..], "printed nothing"),
            (b"\n\n", "printed nothing"),
            (b"WARNING: x\nya29.tok\n", "more than one line"),
            (b"ya29.a b", "unusable"),
            (b"ya29.\x01", "unusable"),
            (b"\xff\xfe", "not UTF-8"),
        ] {
            let err = from_print_access_token(out, START, FALLBACK).unwrap_err();
            assert!(err.contains(reason), "{out:?}: {err}");
            assert!(!err.contains("ya29"), "{err}");
        }
    }
}
