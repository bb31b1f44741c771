//! JWTs signed by any [`Signer`]: the assertions of the JWT-bearer grant and self-signed JWTs,
//! encoded as google-auth's `jwt.encode` encodes them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_core::{Result, Signer};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error;

/// The lifetime of every JWT made here, from its `iat` to its `exp`: one hour, the reference's
/// `_DEFAULT_TOKEN_LIFETIME_SECS` and the longest Google accepts.
pub const JWT_LIFETIME_SECS: i64 = 3600;

/// A JWT of `claims`, signed by `signer`: `base64url(header) "." base64url(claims) "."
/// base64url(signature)`, unpadded.
///
/// The header is `{"alg": <signer's algorithm>, "kid": <signer's key ID>, "typ": "JWT"}`, without
/// `kid` when the signer names no key, as the reference writes it. Any [`Signer`] works: a
/// service-account key, or a remote signer such as IAM's `signBlob`.
///
/// The JWT is a bearer credential (a self-signed JWT is used as an access token, an assertion
/// is traded for one), so it comes back as a [`SecretString`], and the buffers it was made in are
/// zeroized.
///
/// # Errors
///
/// The signer's error.
///
/// # Examples
///
/// ```
/// use credkit_service_account::{ServiceAccountKey, encode_jwt};
/// use credkit_testing::TestKey;
/// use secrecy::ExposeSecret;
///
/// let key = TestKey::generate()?;
/// let info = key.service_account_json("robot@p.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token");
/// let signer = ServiceAccountKey::from_json_str(&info)?.signer();
/// let claims = serde_json::json!({"iss": "robot@p.iam.gserviceaccount.com"});
/// let jwt = futures::executor::block_on(encode_jwt(&signer, claims.as_object().unwrap()))?;
/// assert_eq!(jwt.expose_secret().split('.').count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn encode_jwt(signer: &dyn Signer, claims: &Map<String, Value>) -> Result<SecretString> {
    let mut header = json!({"alg": signer.algorithm(), "typ": "JWT"});
    if let (Some(key_id), Some(object)) = (signer.key_id(), header.as_object_mut()) {
        object.insert("kid".to_owned(), key_id.into());
    }
    let header = serde_json::to_vec(&header).map_err(error::claims_unserializable)?;
    let claims = Zeroizing::new(serde_json::to_vec(claims).map_err(error::claims_unserializable)?);
    let signing_input = segments(&[&header, &claims]);
    let signature = signer.sign(signing_input.as_bytes()).await?;
    let signature = URL_SAFE_NO_PAD.encode(signature.bytes());
    let jwt = joined(&signing_input, &signature);
    // `jwt` has no spare capacity, so the conversion into the secret's boxed `str` keeps its
    // allocation: no copy of the JWT is left behind unwiped.
    Ok(SecretString::from(jwt))
}

/// `parts` base64url-encoded (unpadded) and joined by `.`, in a buffer of exactly that length
/// (so it never grows and leaves a copy behind) that is zeroized when dropped.
fn segments(parts: &[&[u8]]) -> Zeroizing<String> {
    let len = parts
        .iter()
        .map(|part| base64::encoded_len(part.len(), false).unwrap_or(usize::MAX))
        .fold(parts.len().saturating_sub(1), usize::saturating_add);
    let mut out = Zeroizing::new(String::with_capacity(len));
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        URL_SAFE_NO_PAD.encode_string(part, &mut out);
    }
    out
}

/// `signing_input "." signature` in a buffer of exactly its length.
fn joined(signing_input: &str, signature: &str) -> String {
    let mut jwt = String::with_capacity(signing_input.len() + 1 + signature.len());
    jwt.push_str(signing_input);
    jwt.push('.');
    jwt.push_str(signature);
    jwt
}

/// `iat` and `exp` for a JWT made at `now`: whole seconds (the reference's `datetime_to_secs`
/// truncates), one [`JWT_LIFETIME_SECS`] apart.
pub(crate) fn issued_and_expiry(now: OffsetDateTime) -> (i64, i64) {
    let iat = now.unix_timestamp();
    (iat, iat.saturating_add(JWT_LIFETIME_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_whole_hours_of_whole_seconds() {
        let now =
            OffsetDateTime::from_unix_timestamp(1000).unwrap() + time::Duration::milliseconds(999);
        assert_eq!(issued_and_expiry(now), (1000, 4600));
    }

    #[test]
    fn buffers_are_made_at_their_final_size() {
        for parts in [
            &[][..],
            &[&b"a"[..]][..],
            &[b"{}", b"xyzw"],
            &[b"ab", b"", b"abcd"],
        ] {
            let out = segments(parts);
            assert_eq!(out.capacity(), out.len(), "{parts:?}");
        }
        assert_eq!(segments(&[b"{}", b"abcd"]).as_str(), "e30.YWJjZA");
        let jwt = joined("a.b", "sig");
        assert_eq!(jwt, "a.b.sig");
        assert_eq!(jwt.capacity(), jwt.len());
    }
}
