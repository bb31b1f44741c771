//! Taking a compact JWS apart, before any key is looked at: the length cap, the three
//! segments, the header (`alg`, `kid`, `crit`), strict base64url.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::sanitize;
use crate::{Algorithm, VerifyError};

/// The longest token accepted, in bytes: Google's ID tokens are about 1 KiB; the cap is far
/// above that and keeps a hostile input from costing more than a bounded parse.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A token taken apart, its signature not yet checked.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
    /// `header.payload`, the signed bytes.
    pub(crate) message: &'a str,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

/// Parses `token` and checks its `alg` against `allowed`. The order of the checks decides which
/// error a doubly-bad token gets: length, segments, header, algorithm, then the other segments.
pub(crate) fn parse<'a>(token: &'a str, allowed: &[Algorithm]) -> Result<Parsed<'a>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(VerifyError::malformed(
            "a signed JWT has three dot-separated segments",
        ));
    };
    let header = decode(header, "the header is not base64url")?;
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(&header) else {
        return Err(VerifyError::malformed("the header is not a JSON object"));
    };
    let algorithm = algorithm(&header, allowed)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(VerifyError::malformed("the header's kid is not a string")),
    };
    if header.contains_key("crit") {
        return Err(VerifyError::malformed(
            "the header has critical extensions (crit), none of which is understood",
        ));
    }
    let message_len = token.len() - signature.len() - 1;
    let payload = decode(payload, "the payload is not base64url")?;
    if signature.is_empty() {
        return Err(VerifyError::malformed("the signature is empty"));
    }
    let signature = decode(signature, "the signature is not base64url")?;
    Ok(Parsed {
        algorithm,
        kid,
        message: &token[..message_len],
        payload,
        signature,
    })
}

fn algorithm(header: &Map<String, Value>, allowed: &[Algorithm]) -> Result<Algorithm, VerifyError> {
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(VerifyError::malformed("the header's alg is not a string")),
        None => return Err(VerifyError::malformed("the header has no alg")),
    };
    Algorithm::from_name(alg)
        .filter(|algorithm| allowed.contains(algorithm))
        .ok_or_else(|| VerifyError::AlgorithmNotAllowed { alg: sanitize(alg) })
}

/// Strict base64url without padding: no `=`, no other alphabet, no stray trailing bits (so
/// that no two texts decode to the same bytes).
fn decode(segment: &str, reason: &'static str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::malformed(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256];

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, payload: &str, signature: &str) -> String {
        format!("{}.{}.{signature}", b64(header), b64(payload))
    }

    fn reason(result: Result<Parsed<'_>, VerifyError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_well_formed_token_is_taken_apart() {
        let text = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"a":1}"#,
            "AQID",
        );
        let parsed = parse(&text, BOTH).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::RS256);
        assert_eq!(parsed.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.payload, br#"{"a":1}"#);
        assert_eq!(parsed.signature, [1, 2, 3]);
        assert_eq!(parsed.message, &text[..text.len() - 5]);
        let es = token(r#"{"alg":"ES256"}"#, "{}", "AQID");
        let parsed = parse(&es, BOTH).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::ES256);
        assert_eq!(parsed.kid, None);
    }

    #[test]
    fn the_length_is_capped_before_parsing() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            parse(&long, BOTH),
            Err(VerifyError::TooLarge { len, max: MAX_TOKEN_LEN }) if len == MAX_TOKEN_LEN + 1
        ));
        let at_cap = "a".repeat(MAX_TOKEN_LEN);
        assert!(matches!(
            parse(&at_cap, BOTH),
            Err(VerifyError::Malformed { .. })
        ));
    }

    #[test]
    fn segments_headers_and_base64_are_checked() {
        let header = b64(r#"{"alg":"RS256"}"#);
        for bad in ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e"] {
            assert!(
                reason(parse(bad, BOTH)).contains("three dot-separated segments"),
                "{bad}"
            );
        }
        assert!(reason(parse("!!.e30.AQID", BOTH)).contains("header is not base64url"));
        assert!(
            reason(parse(&format!("{}.e30.AQID", b64("[1]")), BOTH)).contains("not a JSON object")
        );
        assert!(
            reason(parse(&format!("{}.e30.AQID", b64("{")), BOTH)).contains("not a JSON object")
        );
        assert!(
            reason(parse(&format!("{header}.!!.AQID"), BOTH)).contains("payload is not base64url")
        );
        assert!(
            reason(parse(&format!("{header}.e30.!!"), BOTH)).contains("signature is not base64url")
        );
        assert!(reason(parse(&format!("{header}.e30."), BOTH)).contains("signature is empty"));
        // Padding and stray trailing bits are refused: one text per byte string.
        assert!(reason(parse(&format!("{header}.e30.AQI="), BOTH)).contains("not base64url"));
        assert!(reason(parse(&format!("{header}.e30.AQJ"), BOTH)).contains("not base64url"));
        assert!(reason(parse(&format!("{header}=.e30.AQID"), BOTH)).contains("not base64url"));
    }

    #[test]
    fn alg_and_kid_are_checked() {
        let bad = |header: &str| reason(parse(&token(header, "{}", "AQID"), BOTH));
        assert!(bad(r#"{"kid":"k"}"#).contains("has no alg"));
        assert!(bad(r#"{"alg":1}"#).contains("alg is not a string"));
        assert!(bad(r#"{"alg":"RS256","kid":7}"#).contains("kid is not a string"));
        assert!(bad(r#"{"alg":"RS256","crit":["b64"]}"#).contains("critical extensions"));
        for alg in ["none", "HS256", "RS512", "rs256", "PS256", "EdDSA"] {
            let err = parse(&token(&format!(r#"{{"alg":"{alg}"}}"#), "{}", ""), BOTH).unwrap_err();
            assert!(
                matches!(&err, VerifyError::AlgorithmNotAllowed { alg: got } if got == alg),
                "{alg}: {err}"
            );
        }
        let es = token(r#"{"alg":"ES256"}"#, "{}", "AQID");
        let only_rs = parse(&es, &[Algorithm::RS256]);
        assert!(matches!(
            only_rs,
            Err(VerifyError::AlgorithmNotAllowed { .. })
        ));
        let control = bad("{\"alg\":\"x\\u001by\"}");
        assert!(control.contains("x?y"), "{control}");
    }
}
