//! Token endpoint replies (any status, content type, `Retry-After` and body), read as
//! `read_token_response` does, with the caller's secrets planted in the body: the reply never
//! panics the reader, an error carries no planted secret and no raw control character, and a
//! token read is sendable in a header and redacted in `Debug`.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use credkit_core::oauth::read_token_response;
use credkit_fuzz::assert_error_clean;
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use time::macros::datetime;

#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    /// An OAuth error whose description echoes a planted secret among hostile text.
    Echo {
        error: String,
        before: String,
        after: String,
        subtype: Option<String>,
    },
    /// A token response with hostile members.
    Token {
        access_token: String,
        expires_in: Option<i64>,
        scope: Option<String>,
        echo_secret: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Body,
}

const PLANTED: &str = "1//planted-refresh-Zq9xK4mW";

fuzz_target!(|input: Input| {
    let body = |access: Option<&str>| match &input.body {
        Body::Raw(bytes) => bytes.clone(),
        Body::Echo {
            error,
            before,
            after,
            subtype,
        } => serde_json::to_vec(&serde_json::json!({
            "error": error,
            "error_description": format!("{before}{PLANTED}{after}"),
            "error_subtype": subtype,
        }))
        .expect("JSON"),
        Body::Token {
            access_token,
            expires_in,
            scope,
            echo_secret,
        } => serde_json::to_vec(&serde_json::json!({
            "access_token": access.unwrap_or(access_token),
            "expires_in": expires_in,
            "scope": scope,
            "refresh_token": if *echo_secret { Some(PLANTED) } else { None },
        }))
        .expect("JSON"),
    };
    let response = |body: Vec<u8>| {
        let mut builder = http::Response::builder().status(input.status.clamp(100, 999));
        if let Some(content_type) = &input.content_type {
            builder = builder.header("content-type", content_type.as_bytes());
        }
        if let Some(retry_after) = &input.retry_after {
            builder = builder.header("retry-after", retry_after.as_bytes());
        }
        builder.body(Bytes::from(body)).ok()
    };
    let Some(reply) = response(body(None)) else {
        return;
    };
    let secret = SecretString::from(PLANTED);
    let now = datetime!(2026-01-01 0:00 UTC);
    match read_token_response(&reply, now, &[&secret]) {
        Ok(token) => {
            let text = token.secret().expose_secret();
            assert!(http::HeaderValue::from_str(&format!("Bearer {text}")).is_ok());
            // Debug does not depend on the token: the same reply with another token of the
            // same length renders the same.
            if let Body::Token { .. } = &input.body {
                let other = "Z".repeat(text.len().max(1));
                if let Some(reply) = response(body(Some(&other)))
                    && let Ok(other) = read_token_response(&reply, now, &[&secret])
                {
                    assert_eq!(
                        format!("{token:?}"),
                        format!("{other:?}"),
                        "Debug shows the token"
                    );
                }
            }
        }
        Err(error) => assert_error_clean(&error, &[PLANTED]),
    }
});
