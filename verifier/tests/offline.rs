//! Verification with keys given offline: what passes, and one test per class of rejection.
// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_core::Clock;
use credkit_testing::{FakeClock, TestIdTokenIssuer};
use credkit_verifier::{Algorithm, IdTokenVerifier, MAX_TOKEN_LEN, VerifyError};
use futures::executor::block_on;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support::{AUD, assert_clean, claims, issuer, offline, offline_builder, stranger};

fn verify(
    verifier: &IdTokenVerifier,
    token: &str,
) -> Result<credkit_verifier::IdTokenClaims, VerifyError> {
    block_on(verifier.verify(token))
}

fn rejected(verifier: &IdTokenVerifier, token: &str) -> VerifyError {
    let err = verify(verifier, token).unwrap_err();
    assert_clean(&err, token);
    err
}

#[test]
fn rs256_and_es256_tokens_verify_with_a_jwk_set() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let rs = verify(&verifier, &issuer().mint(&claims(&clock))).unwrap();
    assert_eq!(rs.aud, AUD);
    assert_eq!(rs.iss, "https://accounts.google.com");
    assert_eq!(rs.sub, credkit_testing::TEST_ID_TOKEN_SUBJECT);
    assert_eq!(
        rs.email.as_deref(),
        Some(credkit_testing::TEST_ID_TOKEN_EMAIL)
    );
    assert_eq!(rs.email_verified, Some(true));
    assert_eq!(rs.iat, clock.now().unix_timestamp());
    assert_eq!(rs.exp, rs.iat + 3600);
    assert_eq!(rs.expires_at(), clock.now() + Duration::from_secs(3600));
    assert_eq!(rs.issued_at(), clock.now());
    let es = verify(&verifier, &issuer().mint_es256(&claims(&clock))).unwrap();
    assert_eq!(es, rs);
}

#[test]
fn pem_certificates_public_keys_and_single_keys_work_offline() {
    let clock = FakeClock::new();
    let rs = issuer().mint(&claims(&clock));
    let es = issuer().mint_es256(&claims(&clock));
    let builders = [
        IdTokenVerifier::builder().with_pem_keys(issuer().pem_certificates()),
        IdTokenVerifier::builder().with_jwk_set(issuer().pem_certificates_json()),
        IdTokenVerifier::builder().with_pem_keys(issuer().pem_public_keys()),
        IdTokenVerifier::builder().with_jwk_set(issuer().pem_public_keys_json()),
    ];
    for builder in builders {
        let verifier = builder
            .with_audience(AUD)
            .with_clock(clock.clone())
            .build()
            .unwrap();
        assert!(verify(&verifier, &rs).is_ok(), "{verifier:?}");
        assert!(verify(&verifier, &es).is_ok(), "{verifier:?}");
    }
    let [(rsa_kid, rsa_pem), _] = &issuer().pem_certificates()[..] else {
        unreachable!()
    };
    let only_rsa = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_key_pem(rsa_kid, rsa_pem)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert!(verify(&only_rsa, &rs).is_ok());
    assert!(
        matches!(rejected(&only_rsa, &es), VerifyError::UnknownKey { kid } if kid == issuer().ec_kid())
    );
}

#[test]
fn presets_accept_their_algorithm_only() {
    let clock = FakeClock::new();
    let google = IdTokenVerifier::google()
        .with_audience(AUD)
        .with_jwk_set(issuer().jwk_set_json())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert!(verify(&google, &issuer().mint(&claims(&clock))).is_ok());
    let es = issuer().mint_es256(&claims(&clock));
    assert!(
        matches!(rejected(&google, &es), VerifyError::AlgorithmNotAllowed { alg } if alg == "ES256")
    );

    let iap_aud = "/projects/123/apps/my-project";
    let mut iap_claims = TestIdTokenIssuer::google_claims(iap_aud, clock.now());
    iap_claims["iss"] = json!("https://cloud.google.com/iap");
    let iap = IdTokenVerifier::iap()
        .with_audience(iap_aud)
        .with_jwk_set(issuer().jwk_set_json())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert!(verify(&iap, &issuer().mint_es256(&iap_claims)).is_ok());
    assert!(matches!(
        rejected(&iap, &issuer().mint(&iap_claims)),
        VerifyError::AlgorithmNotAllowed { .. }
    ));
    // A Google token is not an IAP one.
    let google_token = issuer().mint_es256(&TestIdTokenIssuer::google_claims(iap_aud, clock.now()));
    assert!(matches!(
        rejected(&iap, &google_token),
        VerifyError::WrongIssuer { .. }
    ));
    let only_es = offline_builder(&clock)
        .with_algorithms(&[Algorithm::ES256])
        .build()
        .unwrap();
    assert!(matches!(
        rejected(&only_es, &issuer().mint(&claims(&clock))),
        VerifyError::AlgorithmNotAllowed { .. }
    ));
}

#[test]
fn wrong_audience_is_rejected() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let token = issuer().mint(&TestIdTokenIssuer::google_claims(
        "https://other.example",
        clock.now(),
    ));
    let err = rejected(&verifier, &token);
    assert!(matches!(&err, VerifyError::WrongAudience { aud } if aud == "https://other.example"));
    assert_eq!(
        err.to_string(),
        "the ID token's audience \"https://other.example\" is not accepted"
    );
    // One of several accepted audiences; one of several in the token.
    let several = offline_builder(&clock)
        .with_audiences(["https://a.example", "https://other.example"])
        .build()
        .unwrap();
    assert_eq!(
        verify(&several, &token).unwrap().aud,
        "https://other.example"
    );
    let mut listed = claims(&clock);
    listed["aud"] = json!(["https://x.example", AUD]);
    assert_eq!(
        verify(&offline(&clock), &issuer().mint(&listed))
            .unwrap()
            .aud,
        AUD
    );
    listed["aud"] = json!(["https://x.example", "https://y.example"]);
    let err = rejected(&offline(&clock), &issuer().mint(&listed));
    assert!(
        matches!(&err, VerifyError::WrongAudience { aud } if aud == "https://x.example,https://y.example")
    );
    listed["aud"] = json!([1]);
    assert!(matches!(
        rejected(&offline(&clock), &issuer().mint(&listed)),
        VerifyError::Malformed { .. }
    ));
    listed["aud"] = json!(7);
    assert!(matches!(
        rejected(&offline(&clock), &issuer().mint(&listed)),
        VerifyError::Malformed { .. }
    ));
}

#[test]
fn skipping_the_audience_must_be_explicit() {
    let clock = FakeClock::new();
    let err = IdTokenVerifier::builder()
        .with_jwk_set(issuer().jwk_set_json())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("needs an audience"), "{err}");
    let any = IdTokenVerifier::builder()
        .dangerous_skip_audience()
        .with_jwk_set(issuer().jwk_set_json())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let token = issuer().mint(&TestIdTokenIssuer::google_claims(
        "https://other.example",
        clock.now(),
    ));
    assert_eq!(verify(&any, &token).unwrap().aud, "https://other.example");
    let mut no_aud = claims(&clock);
    no_aud.as_object_mut().unwrap().remove("aud");
    assert!(matches!(
        rejected(&any, &issuer().mint(&no_aud)),
        VerifyError::MissingClaim { claim: "aud" }
    ));
}

#[test]
fn wrong_issuer_is_rejected() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let mut bad = claims(&clock);
    bad["iss"] = json!("https://evil.example");
    let err = rejected(&verifier, &issuer().mint(&bad));
    assert!(matches!(&err, VerifyError::WrongIssuer { iss } if iss == "https://evil.example"));
    bad["iss"] = json!("accounts.google.com");
    assert!(verify(&verifier, &issuer().mint(&bad)).is_ok());
    let custom = offline_builder(&clock)
        .with_issuers(["https://evil.example"])
        .build()
        .unwrap();
    assert!(matches!(
        rejected(&custom, &issuer().mint(&claims(&clock))),
        VerifyError::WrongIssuer { .. }
    ));
    bad.as_object_mut().unwrap().remove("iss");
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&bad)),
        VerifyError::MissingClaim { claim: "iss" }
    ));
    bad["iss"] = json!(5);
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&bad)),
        VerifyError::Malformed { reason } if reason.contains("iss")
    ));
}

#[test]
fn expired_tokens_are_rejected_beyond_the_skew() {
    let clock = FakeClock::new();
    let verifier = offline(&clock); // 10 s of skew
    let token = issuer().mint(&claims(&clock));
    let exp = clock.now().unix_timestamp() + 3600;
    clock.advance(Duration::from_secs(3600 + 10));
    assert!(verify(&verifier, &token).is_ok(), "within the skew");
    clock.advance(Duration::from_secs(1));
    let err = rejected(&verifier, &token);
    assert!(matches!(err, VerifyError::Expired { exp: e, now } if e == exp && now == exp + 11));
    let strict = offline_builder(&clock)
        .with_clock_skew(Duration::ZERO)
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(0));
    let fresh = issuer().mint(&claims(&clock));
    clock.advance(Duration::from_secs(3600));
    assert!(verify(&strict, &fresh).is_ok(), "exp itself is still valid");
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        rejected(&strict, &fresh),
        VerifyError::Expired { .. }
    ));
}

#[test]
fn tokens_from_the_future_are_rejected_beyond_the_skew() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let mut future = claims(&clock);
    let now = clock.now().unix_timestamp();
    future["iat"] = json!(now + 10);
    assert!(
        verify(&verifier, &issuer().mint(&future)).is_ok(),
        "within the skew"
    );
    future["iat"] = json!(now + 11);
    let err = rejected(&verifier, &issuer().mint(&future));
    assert!(
        matches!(err, VerifyError::NotYetValid { not_before, now: n } if not_before == now + 11 && n == now)
    );
    future["iat"] = json!(now);
    future["nbf"] = json!(now + 60);
    assert!(
        matches!(rejected(&verifier, &issuer().mint(&future)), VerifyError::NotYetValid { not_before, .. } if not_before == now + 60)
    );
    future["nbf"] = json!(now + 5);
    let accepted = verify(&verifier, &issuer().mint(&future)).unwrap();
    assert_eq!(
        accepted.other["nbf"],
        json!(now + 5),
        "nbf is kept among the other claims"
    );
    future["nbf"] = json!("soon");
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&future)),
        VerifyError::Malformed { .. }
    ));
    let wide = offline_builder(&clock)
        .with_clock_skew(Duration::from_secs(300))
        .build()
        .unwrap();
    future["nbf"] = json!(now + 300);
    assert!(verify(&wide, &issuer().mint(&future)).is_ok());
}

#[test]
fn a_skew_above_five_minutes_is_refused() {
    let err = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_jwk_set(issuer().jwk_set_json())
        .with_clock_skew(Duration::from_secs(301))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("301 s is above the 300 s"),
        "{err}"
    );
}

#[test]
fn alg_none_is_rejected() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&clock).to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        let err = verify(&verifier, &token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed { alg } if alg == "none")
                || matches!(&err, VerifyError::Malformed { .. }),
            "{err}"
        );
        assert_clean(&err, &token);
    }
    let err = rejected(&verifier, &format!("{header}.{payload}."));
    assert_eq!(
        err.to_string(),
        "the ID token's algorithm \"none\" is not allowed"
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    let clock = FakeClock::new();
    let verifier = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_pem_keys(issuer().pem_public_keys())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(issuer().rsa_kid().to_owned());
    for (_, public_pem) in issuer().pem_public_keys() {
        let forged = jsonwebtoken::encode(
            &header,
            &claims(&clock),
            &EncodingKey::from_secret(public_pem.as_bytes()).unwrap(),
        )
        .unwrap();
        let err = rejected(&verifier, &forged);
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed { alg } if alg == "HS256"),
            "{err}"
        );
    }
}

#[test]
fn an_unknown_kid_is_rejected_offline() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let token = stranger().mint(&claims(&clock));
    let err = rejected(&verifier, &token);
    assert!(matches!(&err, VerifyError::UnknownKey { kid } if kid == stranger().rsa_kid()));
    let hostile = issuer().sign_rs256(
        &json!({"alg": "RS256", "kid": "k\u{1b}[2J\n".repeat(30)}),
        &claims(&clock),
    );
    let err = rejected(&verifier, &hostile);
    let VerifyError::UnknownKey { kid } = &err else {
        panic!("{err}")
    };
    assert!(kid.starts_with("k?[2J?k?[2J?"), "{kid}");
    assert!(kid.chars().count() <= 65 && kid.ends_with('…'), "{kid}");
}

#[test]
fn a_key_serves_only_its_algorithm() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    // An ES256 header naming the RSA key: refused before any signature check.
    let token = issuer().sign_es256(
        &json!({"alg": "ES256", "kid": issuer().rsa_kid()}),
        &claims(&clock),
    );
    let err = rejected(&verifier, &token);
    assert!(
        matches!(&err, VerifyError::KeyMismatch { alg: "ES256", .. }),
        "{err}"
    );
    let token = issuer().sign_rs256(
        &json!({"alg": "RS256", "kid": issuer().ec_kid()}),
        &claims(&clock),
    );
    assert!(matches!(
        rejected(&verifier, &token),
        VerifyError::KeyMismatch { alg: "RS256", .. }
    ));
}

#[test]
fn tokens_without_kid_are_tried_against_every_key_of_their_algorithm() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let token = issuer().sign_rs256(&json!({"alg": "RS256"}), &claims(&clock));
    assert!(verify(&verifier, &token).is_ok());
    let token = issuer().sign_es256(&json!({"alg": "ES256"}), &claims(&clock));
    assert!(verify(&verifier, &token).is_ok());
    let token = stranger().sign_rs256(&json!({"alg": "RS256"}), &claims(&clock));
    assert!(matches!(
        rejected(&verifier, &token),
        VerifyError::BadSignature
    ));
    let only_rsa = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_key_pem("only", issuer().pem_public_keys()[0].1.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let token = issuer().sign_es256(&json!({"alg": "ES256"}), &claims(&clock));
    assert!(
        matches!(rejected(&only_rsa, &token), VerifyError::UnknownKey { kid } if kid.is_empty())
    );
}

#[test]
fn a_bad_signature_is_rejected() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    // Another key's signature under our key's kid.
    for token in [
        stranger().sign_rs256(
            &json!({"alg": "RS256", "kid": issuer().rsa_kid()}),
            &claims(&clock),
        ),
        stranger().sign_es256(
            &json!({"alg": "ES256", "kid": issuer().ec_kid()}),
            &claims(&clock),
        ),
    ] {
        let err = rejected(&verifier, &token);
        assert!(matches!(err, VerifyError::BadSignature), "{err}");
        assert_eq!(err.to_string(), "the ID token's signature is not valid");
    }
    // Claims swapped under a valid signature.
    let good = issuer().mint(&claims(&clock));
    let mut forged_claims = claims(&clock);
    forged_claims["email"] = json!("admin@example.com");
    let forged = issuer().mint(&forged_claims);
    let (head, _) = good.rsplit_once('.').unwrap();
    let (_, forged_signature) = forged.rsplit_once('.').unwrap();
    let mixed = format!("{head}.{forged_signature}");
    assert!(matches!(
        rejected(&verifier, &mixed),
        VerifyError::BadSignature
    ));
    // A truncated signature.
    let (head, signature) = good.rsplit_once('.').unwrap();
    let mut short = URL_SAFE_NO_PAD.decode(signature).unwrap();
    short.pop();
    let truncated = format!("{head}.{}", URL_SAFE_NO_PAD.encode(short));
    assert!(matches!(
        rejected(&verifier, &truncated),
        VerifyError::BadSignature
    ));
}

#[test]
fn malformed_tokens_are_rejected_with_the_reason() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let good = issuer().mint(&claims(&clock));
    let parts: Vec<&str> = good.split('.').collect();
    let reason = |token: &str| match rejected(&verifier, token) {
        VerifyError::Malformed { reason } => reason,
        other => panic!("{other}"),
    };
    assert!(reason(&parts[..2].join(".")).contains("three dot-separated segments"));
    assert!(reason(&format!("{good}.{}", parts[2])).contains("three dot-separated segments"));
    assert!(
        reason(&format!("{}.{}.{}!", parts[0], parts[1], parts[2]))
            .contains("signature is not base64url")
    );
    assert!(
        reason(&format!("{}*.{}.{}", parts[0], parts[1], parts[2]))
            .contains("header is not base64url")
    );
    assert!(
        reason(&format!("{}.{}*.{}", parts[0], parts[1], parts[2]))
            .contains("payload is not base64url")
    );
    let not_json = URL_SAFE_NO_PAD.encode("not json");
    assert!(
        reason(&format!("{not_json}.{}.{}", parts[1], parts[2]))
            .contains("header is not a JSON object")
    );
    // A signed payload that is not JSON.
    let signed_garbage = issuer().sign_rs256(
        &json!({"alg": "RS256", "kid": issuer().rsa_kid()}),
        &json!(0),
    );
    assert!(reason(&signed_garbage).contains("payload is not a JSON object"));
    let err = verify(&verifier, "").unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }));
}

#[test]
fn oversized_tokens_are_rejected_before_parsing() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    let mut big = claims(&clock);
    big["padding"] = json!("x".repeat(MAX_TOKEN_LEN));
    let token = issuer().mint(&big);
    let err = rejected(&verifier, &token);
    assert!(matches!(err, VerifyError::TooLarge { len, max: MAX_TOKEN_LEN } if len == token.len()));
    let mut fits = claims(&clock);
    fits["padding"] = json!("x".repeat(MAX_TOKEN_LEN / 2));
    assert!(verify(&verifier, &issuer().mint(&fits)).is_ok());
}

#[test]
fn missing_or_mistyped_time_claims_are_rejected() {
    let clock = FakeClock::new();
    let verifier = offline(&clock);
    for claim in ["exp", "iat", "sub"] {
        let mut partial = claims(&clock);
        partial.as_object_mut().unwrap().remove(claim);
        let err = rejected(&verifier, &issuer().mint(&partial));
        assert!(
            matches!(err, VerifyError::MissingClaim { claim: c } if c == claim),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("the ID token has no {claim} claim")
        );
    }
    let mut typed = claims(&clock);
    typed["exp"] = json!("tomorrow");
    assert!(
        matches!(rejected(&verifier, &issuer().mint(&typed)), VerifyError::Malformed { reason } if reason.contains("exp"))
    );
    typed["exp"] = Value::Null;
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&typed)),
        VerifyError::MissingClaim { claim: "exp" }
    ));
    let mut typed = claims(&clock);
    typed["iat"] = json!(true);
    assert!(
        matches!(rejected(&verifier, &issuer().mint(&typed)), VerifyError::Malformed { reason } if reason.contains("iat"))
    );
    // Fractional NumericDates are floored.
    let now = clock.now().unix_timestamp();
    let mut fractional = claims(&clock);
    fractional["iat"] = json!(format!("{now}.9").parse::<f64>().unwrap());
    fractional["exp"] = json!(format!("{}.5", now + 60).parse::<f64>().unwrap());
    let accepted = verify(&verifier, &issuer().mint(&fractional)).unwrap();
    assert_eq!((accepted.iat, accepted.exp), (now, now + 60));
    for (claim, value) in [
        ("sub", json!(1)),
        ("email", json!(1)),
        ("hd", json!(1)),
        ("azp", json!(1)),
        ("name", json!(1)),
    ] {
        let mut bad = claims(&clock);
        bad[claim] = value;
        let err = rejected(&verifier, &issuer().mint(&bad));
        assert!(
            matches!(err, VerifyError::Malformed { reason } if reason.contains(claim)),
            "{claim}: {err}"
        );
    }
}

#[test]
fn the_hosted_domain_is_checked_when_required() {
    let clock = FakeClock::new();
    let verifier = offline_builder(&clock)
        .with_hosted_domain("example.com")
        .build()
        .unwrap();
    let mut workspace = claims(&clock);
    workspace["hd"] = json!("example.com");
    assert_eq!(
        verify(&verifier, &issuer().mint(&workspace))
            .unwrap()
            .hd
            .as_deref(),
        Some("example.com")
    );
    workspace["hd"] = json!("evil.com");
    assert!(
        matches!(rejected(&verifier, &issuer().mint(&workspace)), VerifyError::WrongHostedDomain { hd } if hd == "evil.com")
    );
    let err = rejected(&verifier, &issuer().mint(&claims(&clock)));
    assert!(matches!(&err, VerifyError::WrongHostedDomain { hd } if hd.is_empty()));
    // Not required: any or none.
    assert!(verify(&offline(&clock), &issuer().mint(&workspace)).is_ok());
}

#[test]
fn email_verified_is_checked_when_required() {
    let clock = FakeClock::new();
    let verifier = offline_builder(&clock)
        .require_email_verified()
        .build()
        .unwrap();
    assert!(verify(&verifier, &issuer().mint(&claims(&clock))).is_ok());
    let mut unverified = claims(&clock);
    for value in [json!(false), json!("false"), Value::Null] {
        unverified["email_verified"] = value;
        let err = rejected(&verifier, &issuer().mint(&unverified));
        assert!(matches!(err, VerifyError::EmailNotVerified), "{err}");
    }
    unverified.as_object_mut().unwrap().remove("email_verified");
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&unverified)),
        VerifyError::EmailNotVerified
    ));
    unverified["email_verified"] = json!("true");
    assert_eq!(
        verify(&verifier, &issuer().mint(&unverified))
            .unwrap()
            .email_verified,
        Some(true)
    );
    unverified["email_verified"] = json!("yes");
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&unverified)),
        VerifyError::Malformed { .. }
    ));
    unverified["email_verified"] = json!(1);
    assert!(matches!(
        rejected(&verifier, &issuer().mint(&unverified)),
        VerifyError::Malformed { .. }
    ));
    // Not required: an unverified email passes.
    unverified["email_verified"] = json!(false);
    assert_eq!(
        verify(&offline(&clock), &issuer().mint(&unverified))
            .unwrap()
            .email_verified,
        Some(false)
    );
}

#[test]
fn claims_serialize_back_with_every_other_claim() {
    let clock = FakeClock::new();
    let mut full = claims(&clock);
    full["name"] = json!("Robot");
    full["google"] = json!({"compute_engine": {"project_id": "p"}});
    let verified = verify(&offline(&clock), &issuer().mint(&full)).unwrap();
    assert_eq!(verified.name.as_deref(), Some("Robot"));
    assert_eq!(serde_json::to_value(&verified).unwrap(), full);
}

#[test]
fn builder_errors_say_what_to_fix() {
    let err = |builder: credkit_verifier::IdTokenVerifierBuilder| {
        builder.build().unwrap_err().to_string()
    };
    let base = || IdTokenVerifier::builder().with_audience(AUD);
    assert!(err(base()).contains("needs a transport"));
    assert!(err(base().with_jwk_set("{}")).contains("no usable"));
    assert!(err(base().with_jwk_set("[]")).contains("not a JSON object"));
    assert!(err(base().with_jwk_set(r#"{"keys": 1}"#)).contains("not an array"));
    assert!(err(base().with_key_pem("k\n", "not pem")).contains("\"k?\""));
    assert!(
        err(base()
            .with_issuers(Vec::<String>::new())
            .with_jwk_set(issuer().jwk_set_json()))
        .contains("issuer")
    );
    assert!(
        err(base()
            .with_algorithms(&[])
            .with_jwk_set(issuer().jwk_set_json()))
        .contains("algorithm")
    );
    assert!(err(base().with_keys_url("not a url")).contains("http or https"));
    assert!(err(base().with_keys_url("ftp://example.com/keys")).contains("http or https"));
    assert!(err(base().with_keys_url("/relative")).contains("http or https"));
    assert!(err(base().with_keys_url("http://:80/keys")).contains("http or https"));
}

#[test]
fn debug_shows_the_policy() {
    let clock = FakeClock::new();
    let shown = format!("{:?}", offline(&clock));
    assert!(
        shown.contains(AUD) && shown.contains(issuer().rsa_kid()),
        "{shown}"
    );
    let builder = format!("{:?}", offline_builder(&clock));
    assert!(builder.contains("offline_keys: 1"), "{builder}");
}
