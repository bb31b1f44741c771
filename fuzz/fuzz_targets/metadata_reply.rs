//! The metadata server's replies, any bytes: the token JSON (read as `MetadataCredentials`
//! reads it), an identity token, a text value, service account information, and an error reply
//! of any status, content type and flavor. Nothing panics; a token read is sendable in a header
//! and redacted in `Debug`; an ID token's expiry is its `exp`; reasons and error messages are
//! one clean line that never quote a planted token.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use credkit_core::oauth::read_token_response;
use credkit_metadata::fuzzing;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use time::macros::datetime;

/// A token-shaped secret planted in the error bodies: no message may quote it.
const PLANTED: &str = "ya29.planted-metadata-secret";

#[derive(Arbitrary, Debug)]
enum Input {
    Token(Vec<u8>),
    IdToken(Vec<u8>),
    Text(Vec<u8>),
    ServiceAccount(Vec<u8>),
    Error {
        status: u16,
        content_type: Vec<u8>,
        flavored: bool,
        before: String,
        plant: bool,
        after: String,
    },
}

fuzz_target!(|input: Input| {
    let sent_at = datetime!(2026-01-01 0:00 UTC);
    match input {
        Input::Token(body) => {
            let response = http::Response::new(Bytes::from(body));
            match read_token_response(&response, sent_at, &[]) {
                Ok(token) => {
                    let text = token.secret().expose_secret();
                    assert!(http::HeaderValue::from_str(&format!("Bearer {text}")).is_ok());
                    credkit_fuzz::assert_token_debug_hidden(&token);
                }
                Err(err) => credkit_fuzz::assert_clean("a token error", &err.to_string(), &[]),
            }
        }
        Input::IdToken(body) => match fuzzing::id_token(&body, sent_at) {
            Ok(token) => {
                let text = token.secret().expose_secret();
                assert!(http::HeaderValue::from_str(&format!("Bearer {text}")).is_ok());
                assert_eq!(text.split('.').count(), 3);
                assert!(token.expiry().is_some());
                credkit_fuzz::assert_token_debug_hidden(&token);
            }
            Err(reason) => {
                credkit_fuzz::assert_clean("an ID token reason", &reason, &[]);
                let text = String::from_utf8_lossy(&body);
                if text.trim().len() >= 8 {
                    assert!(!reason.contains(text.trim()), "the reason quotes the token");
                }
            }
        },
        Input::Text(body) => match fuzzing::text(&body) {
            Ok(value) => {
                assert!(value.len() <= fuzzing::MAX_TEXT);
                assert!(!value.chars().any(char::is_control));
                assert_eq!(value.trim(), value);
            }
            Err(reason) => credkit_fuzz::assert_clean("a text reason", &reason, &[]),
        },
        Input::ServiceAccount(body) => match fuzzing::service_account_email(&body) {
            Ok(email) => assert!(!email.is_empty() && !email.chars().any(char::is_control)),
            Err(reason) => credkit_fuzz::assert_clean("an info reason", &reason, &[]),
        },
        Input::Error {
            status,
            content_type,
            flavored,
            before,
            plant,
            after,
        } => {
            let body = if plant {
                format!("{before}{PLANTED}{after}")
            } else {
                format!("{before}{after}")
            };
            let message =
                fuzzing::error_message(status, &content_type, flavored, body.as_bytes());
            // A planted token in a short text body may be quoted only by the metadata server's
            // own plain text; never when the answer is not flavored or not plain text.
            // (A content type that cannot be a header value is left out: an untyped body.)
            let plain = http::HeaderValue::from_bytes(&content_type)
                .map_or(true, |value| value.as_bytes().starts_with(b"text/plain"));
            if !(flavored && plain) {
                assert!(!message.contains(PLANTED), "an unflavored body was quoted");
            }
            assert!(message.chars().count() < 600, "the message is not bounded");
            credkit_fuzz::assert_clean("an error message", &message, &[]);
        }
    }
});
