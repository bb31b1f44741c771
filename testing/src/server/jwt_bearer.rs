//! The JWT-bearer grant (RFC 7523) as Google's token endpoint accepts it: the assertion's RS256
//! signature checked with a configured public key, its claims with the expected values.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use super::record::RecordedRequest;
use super::reply::Reply;
use crate::IdTokenMinter;
use crate::keys::TestKey;

/// The grant type of the JWT-bearer grant.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Google's token endpoint: the `aud` google-auth puts in every assertion.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The longest assertion lifetime Google accepts, from `iat` to `exp`.
const MAX_LIFETIME_SECS: i64 = 3600;

/// The secret the fake endpoint signs its ID tokens with (HS256): they are for reading, not for
/// verifying.
const ID_TOKEN_SECRET: &[u8] = b"credkit-testing fake id token";

/// What a [`FakeTokenServer`](crate::FakeTokenServer) checks in a JWT-bearer grant, once
/// [`accept_jwt_bearer`](crate::FakeTokenServer::accept_jwt_bearer) is given it.
///
/// A grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`) passes when its
/// `assertion` is a JWT whose RS256 signature verifies with the key's public half, whose header
/// names the key's ID as `kid`, and whose claims have `iss` = the issuer, `aud` = the audience
/// (default `https://oauth2.googleapis.com/token`), integer `iat` and `exp` with `exp` after
/// `iat` by at most an hour, and, when set, the expected `scope` and `sub` (or no `sub`).
/// It then gets the next scripted reply as usual; a default token reply to an assertion with a
/// `target_audience` becomes `{"id_token": ...}`, as Google answers: an ID token (signed with a
/// fixed HS256 secret, for reading only) with `aud` = the target audience, `iss`
/// `https://accounts.google.com`, `sub` = the issuer, and the assertion's `iat` and `exp`.
///
/// A grant that fails gets `400 {"error": "invalid_grant", "error_description": <what failed>}`
/// without using the script. Other grant types are not checked.
///
/// # Examples
///
/// ```
/// use credkit_testing::{JwtBearerCheck, TestKey};
///
/// let key = TestKey::generate()?;
/// let check = JwtBearerCheck::new(&key, "robot@p.iam.gserviceaccount.com")
///     .with_scope("https://www.googleapis.com/auth/cloud-platform")
///     .with_subject(None);
/// assert!(check.verify("not.a.jwt").unwrap_err().contains("signature"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtBearerCheck {
    public_key_der: Vec<u8>,
    key_id: Option<String>,
    issuer: String,
    audience: String,
    scope: Option<String>,
    subject: SubjectRule,
    minter: Option<IdTokenMinter>,
}

/// What the check asks of `sub`.
#[derive(Clone, Debug)]
enum SubjectRule {
    Unchecked,
    Absent,
    Is(String),
}

impl JwtBearerCheck {
    /// Checks assertions signed by `key` (its key ID as `kid`) and issued by `issuer` (the
    /// service account's email), for Google's token endpoint.
    pub fn new(key: &TestKey, issuer: impl Into<String>) -> Self {
        Self {
            public_key_der: key.public_key_der().to_vec(),
            key_id: Some(key.key_id().to_owned()),
            issuer: issuer.into(),
            audience: GOOGLE_TOKEN_URI.to_owned(),
            scope: None,
            subject: SubjectRule::Unchecked,
            minter: None,
        }
    }

    /// The `aud` assertions must have. Default `https://oauth2.googleapis.com/token`.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The `scope` assertions must have (space-separated). Default: not checked.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The `sub` assertions must have (`None`: no `sub` at all). Default: not checked.
    #[must_use]
    pub fn with_subject(mut self, subject: Option<&str>) -> Self {
        self.subject = match subject {
            Some(subject) => SubjectRule::Is(subject.to_owned()),
            None => SubjectRule::Absent,
        };
        self
    }

    /// Signs the ID tokens the endpoint answers with `minter` (a test issuer whose keys a
    /// verifier can fetch) instead of the fixed HS256 secret. The claims are the same.
    #[must_use]
    pub fn with_id_token_minter(
        mut self,
        minter: impl Fn(&Value) -> String + Send + Sync + 'static,
    ) -> Self {
        self.minter = Some(IdTokenMinter::new(minter));
        self
    }

    /// Checks one assertion: its claims, or what failed.
    ///
    /// # Errors
    ///
    /// A description of the first check that failed.
    pub fn verify(&self, assertion: &str) -> Result<Map<String, Value>, String> {
        let header = jsonwebtoken::decode_header(assertion).map_err(|e| {
            format!("the assertion is not a JWT whose signature can be checked ({e})")
        })?;
        if header.alg != Algorithm::RS256 {
            return Err(format!(
                "the assertion's alg is {:?}, not RS256",
                header.alg
            ));
        }
        if header.typ.as_deref() != Some("JWT") {
            return Err(format!("the assertion's typ is {:?}, not JWT", header.typ));
        }
        if let Some(expected) = &self.key_id
            && header.kid.as_deref() != Some(expected)
        {
            return Err(format!(
                "the assertion's kid is {:?}, not the key's {expected}",
                header.kid
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        // Time is checked below for consistency only: tests run on fake clocks.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        let key = DecodingKey::from_rsa_der(&self.public_key_der);
        let data = jsonwebtoken::decode::<Map<String, Value>>(assertion, &key, &validation)
            .map_err(|e| describe(&e, self))?;
        let claims = data.claims;
        let iat = claims.get("iat").and_then(Value::as_i64);
        let exp = claims.get("exp").and_then(Value::as_i64);
        match (iat, exp) {
            (Some(iat), Some(exp)) if exp > iat && exp - iat <= MAX_LIFETIME_SECS => {}
            _ => {
                return Err(format!(
                    "the assertion's iat ({iat:?}) and exp ({exp:?}) are not integers with exp after iat by at most {MAX_LIFETIME_SECS} s"
                ));
            }
        }
        if let Some(scope) = &self.scope {
            let got = claims.get("scope").and_then(Value::as_str);
            if got != Some(scope) {
                return Err(format!("the assertion's scope is {got:?}, not {scope:?}"));
            }
        }
        let got = claims.get("sub").and_then(Value::as_str);
        match &self.subject {
            SubjectRule::Absent if got.is_some() || claims.contains_key("sub") => {
                return Err(format!(
                    "the assertion has a sub ({got:?}); none was expected"
                ));
            }
            SubjectRule::Is(subject) if got != Some(subject.as_str()) => {
                return Err(format!("the assertion's sub is {got:?}, not {subject:?}"));
            }
            SubjectRule::Unchecked | SubjectRule::Absent | SubjectRule::Is(_) => {}
        }
        Ok(claims)
    }

    /// The refusal of a JWT-bearer grant that fails the check, or `None` for another grant or
    /// one that passes (with the ID token to answer, when it asks for one).
    pub(crate) fn judge(&self, request: &RecordedRequest) -> Judgement {
        if request.form_value("grant_type") != Some(GRANT_TYPE) {
            return Judgement::NotJwtBearer;
        }
        let Some(assertion) = request.form_value("assertion") else {
            return Judgement::Refused(refusal("the request has no assertion"));
        };
        match self.verify(assertion) {
            Err(why) => Judgement::Refused(refusal(&why)),
            Ok(claims) => Judgement::Accepted {
                id_token: claims
                    .get("target_audience")
                    .and_then(Value::as_str)
                    .map(|audience| self.id_token(audience, &claims)),
            },
        }
    }

    fn id_token(&self, audience: &str, assertion: &Map<String, Value>) -> String {
        let claims = json!({
            "iss": "https://accounts.google.com",
            "aud": audience,
            "azp": self.issuer,
            "sub": self.issuer,
            "email": self.issuer,
            "iat": assertion.get("iat"),
            "exp": assertion.get("exp"),
        });
        if let Some(minter) = &self.minter {
            return minter.mint(&claims);
        }
        EncodingKey::from_secret(ID_TOKEN_SECRET)
            .and_then(|key| jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key))
            .unwrap_or_else(|e| format!("credkit-testing: the fake ID token failed: {e}"))
    }
}

/// What the check made of a request.
pub(crate) enum Judgement {
    NotJwtBearer,
    Refused(Reply),
    Accepted { id_token: Option<String> },
}

fn refusal(why: &str) -> Reply {
    Reply::oauth_error(400, "invalid_grant", Some(why))
}

fn describe(err: &jsonwebtoken::errors::Error, check: &JwtBearerCheck) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::InvalidSignature => {
            "the assertion's signature does not verify with the service account's public key"
                .to_owned()
        }
        ErrorKind::InvalidIssuer => format!("the assertion's iss is not {}", check.issuer),
        ErrorKind::InvalidAudience => format!("the assertion's aud is not {}", check.audience),
        ErrorKind::MissingRequiredClaim(claim) => format!("the assertion has no {claim} claim"),
        other => format!("the assertion is not acceptable ({other:?})"),
    }
}

impl fmt::Debug for JwtBearerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBearerCheck")
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use bytes::Bytes;
    use http::{HeaderMap, Method, Uri};

    use super::super::script::{PlannedBody, Shared};
    use super::*;

    const EMAIL: &str = "robot@p.iam.gserviceaccount.com";

    fn key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| TestKey::generate().unwrap())
    }

    fn claims() -> Value {
        json!({"iss": EMAIL, "aud": GOOGLE_TOKEN_URI, "iat": 1000, "exp": 4600, "scope": "a b"})
    }

    fn with(name: &str, value: Value) -> Value {
        let mut claims = claims();
        claims[name] = value;
        claims
    }

    fn form_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers
    }

    fn grant(assertion: &str) -> RecordedRequest {
        let body = format!(
            "assertion={assertion}&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
        RecordedRequest::new(
            Method::POST,
            Uri::from_static("/token"),
            form_headers(),
            Bytes::from(body),
        )
    }

    #[test]
    fn a_good_assertion_passes_and_bad_ones_are_named() {
        let check = JwtBearerCheck::new(key(), EMAIL)
            .with_scope("a b")
            .with_subject(None);
        assert_eq!(
            check.verify(&key().sign_jwt(&claims())).unwrap()["iss"],
            EMAIL
        );
        let other = TestKey::generate().unwrap();
        for (jwt, why) in [
            (other.sign_jwt(&claims()), "kid"),
            (key().sign_jwt(&with("iss", json!("x@y"))), "iss is not"),
            (
                key().sign_jwt(&with("aud", json!("https://elsewhere"))),
                "aud is not",
            ),
            (key().sign_jwt(&with("exp", json!(4601))), "at most 3600"),
            (key().sign_jwt(&with("exp", json!(1000))), "exp after iat"),
            (key().sign_jwt(&with("iat", json!("soon"))), "iat"),
            (key().sign_jwt(&with("scope", json!("a"))), "scope"),
            (
                key().sign_jwt(&with("sub", json!("u@x"))),
                "none was expected",
            ),
            ("a.b.c".to_owned(), "not a JWT"),
        ] {
            let err = check.verify(&jwt).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        // Same kid, other key: the signature fails.
        let mut forged = other.sign_jwt(&claims());
        let kid = key().key_id();
        let header = URL_SAFE_NO_PAD_ENC
            .encode(json!({"alg": "RS256", "kid": kid, "typ": "JWT"}).to_string());
        let rest = forged.split_once('.').unwrap().1.to_owned();
        forged = format!("{header}.{rest}");
        assert!(
            check
                .verify(&forged)
                .unwrap_err()
                .contains("signature does not verify")
        );
        let subject = JwtBearerCheck::new(key(), EMAIL).with_subject(Some("u@x"));
        assert!(
            subject
                .verify(&key().sign_jwt(&with("sub", json!("u@x"))))
                .is_ok()
        );
        assert!(
            subject
                .verify(&key().sign_jwt(&claims()))
                .unwrap_err()
                .contains("sub is None")
        );
        assert!(format!("{check:?}").contains(EMAIL));
    }

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL_SAFE_NO_PAD_ENC;

    #[test]
    fn the_server_refuses_answers_and_issues_id_tokens() {
        let shared = Shared::default();
        shared.accept_jwt_bearer(JwtBearerCheck::new(key(), EMAIL));
        let refused = shared.record_and_plan(grant("not-a-jwt"), "http://h");
        assert_eq!(refused.status, 400);
        let ok = shared.record_and_plan(grant(&key().sign_jwt(&claims())), "http://h");
        assert_eq!(ok.status, 200);
        let id = shared.record_and_plan(
            grant(&key().sign_jwt(&with("target_audience", json!("https://svc")))),
            "http://h",
        );
        let PlannedBody::Full(body) = id.body else {
            panic!("a body")
        };
        let body: Value = serde_json::from_slice(&body).unwrap();
        let token = body["id_token"].as_str().unwrap();
        let payload = URL_SAFE_NO_PAD_ENC
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let payload: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(payload["aud"], "https://svc");
        assert_eq!(payload["exp"], 4600);
        assert!(body.get("access_token").is_none());
        // Another grant is not judged.
        let other = RecordedRequest::new(
            Method::POST,
            Uri::from_static("/token"),
            form_headers(),
            Bytes::from_static(b"grant_type=refresh_token"),
        );
        assert_eq!(shared.record_and_plan(other, "http://h").status, 200);
        // A grant without an assertion is refused.
        let bare = RecordedRequest::new(
            Method::POST,
            Uri::from_static("/token"),
            form_headers(),
            Bytes::from_static(b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        );
        assert_eq!(shared.record_and_plan(bare, "http://h").status, 400);
    }
}
