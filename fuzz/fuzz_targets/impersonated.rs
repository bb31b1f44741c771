//! Impersonation's parsers, any bytes: the `impersonated_service_account` file, IAM's
//! `generateAccessToken` and `signJwt` replies, and an IAM error reply of any status, content
//! type and body. Nothing panics; a token read is sendable in a header and redacted in `Debug`;
//! error messages are one clean line that never quote a planted source token.
#![no_main]

use arbitrary::Arbitrary;
use credkit_impersonated::ImpersonatedServiceAccountInfo;
use credkit_impersonated::fuzzing;
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use time::macros::datetime;

/// A token-shaped secret planted in the error bodies: no message may quote it.
const PLANTED: &str = "ya29.planted-source-token";

#[derive(Arbitrary, Debug)]
enum Input {
    File(String),
    AccessToken(Vec<u8>),
    SignedJwt(Vec<u8>),
    Error {
        status: u16,
        content_type: Vec<u8>,
        before: String,
        plant: bool,
        after: String,
    },
}

fuzz_target!(|input: Input| {
    let sent_at = datetime!(2026-01-01 0:00 UTC);
    match input {
        Input::File(text) => match ImpersonatedServiceAccountInfo::from_json_str(&text) {
            Ok(info) => {
                assert!(!info.target_principal().is_empty());
                assert!(info.source_credentials().is_object());
            }
            Err(err) => credkit_fuzz::assert_clean("a file error", &err.to_string(), &[]),
        },
        Input::AccessToken(body) => match fuzzing::access_token(&body, sent_at) {
            Ok(token) => {
                let text = token.secret().expose_secret();
                assert!(http::HeaderValue::from_str(&format!("Bearer {text}")).is_ok());
                assert!(token.expiry().is_some());
                credkit_fuzz::assert_token_debug_hidden(&token);
            }
            Err(err) => credkit_fuzz::assert_clean("a token error", &err.to_string(), &[]),
        },
        Input::SignedJwt(body) => {
            if let Err(err) = fuzzing::signed_jwt(&body) {
                credkit_fuzz::assert_clean("a signJwt error", &err.to_string(), &[]);
            }
        }
        Input::Error {
            status,
            content_type,
            before,
            plant,
            after,
        } => {
            let body = if plant {
                format!("{before}{PLANTED}{after}")
            } else {
                format!("{before}{after}")
            };
            let secret = SecretString::from(PLANTED);
            if let Some(err) =
                fuzzing::error(status, &content_type, body.as_bytes(), sent_at, &secret)
            {
                let message = err.to_string();
                credkit_fuzz::assert_clean("an IAM error", &message, &[PLANTED]);
                assert!(message.starts_with("Unable to acquire impersonated credentials: "));
                if let Some(description) = err.error_description() {
                    credkit_fuzz::assert_clean("a description", description, &[PLANTED]);
                }
            }
        }
    }
});
