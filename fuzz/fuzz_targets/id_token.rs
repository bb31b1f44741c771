//! The ID-token verifier over hostile input: any token text (against offline keys), a valid
//! ES256 token with bytes changed, any claims payload (as if its signature had verified), and
//! any keys document. Nothing panics; a changed token is never accepted (an unchanged one
//! always is); error messages are one line and never repeat the input when it is longer than
//! 16 bytes.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_verifier::{IdTokenVerifier, fuzzing};
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any token text.
    Token(String),
    /// Edits to a valid token: (position, byte) pairs.
    Tamper(Vec<(u16, u8)>),
    /// A payload, checked as the claims of a verified token.
    Claims(Vec<u8>),
    /// A keys document.
    Keys(Vec<u8>),
}

/// A verifier with one per-run P-256 key, and a token it accepts (valid for an hour).
fn setup() -> &'static (IdTokenVerifier, String, i64) {
    static SETUP: OnceLock<(IdTokenVerifier, String, i64)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = &key.public_key().as_ref()[1..];
        let (x, y) = point.split_at(32);
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "fuzz",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]});
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({
            "iss": "https://accounts.google.com", "aud": "aud", "sub": "1",
            "iat": now, "exp": now + 3600,
        });
        let mut token = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"fuzz"}"#);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut token);
        let signature = key.sign(&random, token.as_bytes()).unwrap();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        let verifier = IdTokenVerifier::builder()
            .with_audience("aud")
            .with_jwk_set(jwks.to_string())
            .build()
            .unwrap();
        (verifier, token, now)
    })
}

/// An error message is one line and does not repeat `input` when it is shaped like a token
/// (longer than 16 bytes, with two dots or more). Text without two dots may be a piece of a
/// message's own fixed wording, which the fuzzer finds and feeds back ("the ID token is
/// malformed: ..."); no message has two dots of its own wording, and a token cannot hold
/// itself in the header or claims a message quotes.
fn check_clean(message: &str, input: &[u8]) {
    assert!(!message.contains('\n') && !message.contains('\r'), "{message:?}");
    if input.len() > 16 {
        if let Ok(text) = std::str::from_utf8(input) {
            if text.matches('.').count() >= 2 {
                assert!(!message.contains(text), "the error repeats the input: {message:?}");
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let (verifier, valid, now) = setup();
    match input {
        Input::Token(text) => {
            if let Err(err) = block_on(verifier.verify(&text)) {
                check_clean(&err.to_string(), text.as_bytes());
                check_clean(&format!("{err:?}"), text.as_bytes());
            }
        }
        Input::Tamper(edits) => {
            let mut bytes = valid.clone().into_bytes();
            for (position, byte) in edits {
                let at = usize::from(position) % bytes.len();
                bytes[at] = byte;
            }
            let Ok(text) = String::from_utf8(bytes) else { return };
            let result = block_on(verifier.verify(&text));
            if text == *valid {
                assert!(result.is_ok(), "the valid token was rejected: {result:?}");
            } else {
                let err = result.expect_err("a changed token was accepted");
                check_clean(&err.to_string(), text.as_bytes());
            }
        }
        Input::Claims(payload) => {
            if let Err(message) = fuzzing::check_claims(&payload, *now) {
                check_clean(&message, &payload);
            }
        }
        Input::Keys(document) => {
            if let Ok(count) = fuzzing::parse_keys(&document) {
                assert!(count > 0);
            }
        }
    }
});
