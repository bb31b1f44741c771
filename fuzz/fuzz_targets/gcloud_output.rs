//! gcloud's standard output and standard error, any bytes: the parsers never panic, a token
//! read is sendable in a header, errors and excerpts are one line without control characters,
//! and an excerpt is bounded.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use credkit_gcloud::fuzzing;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use time::macros::datetime;

#[derive(Arbitrary, Debug)]
enum Input {
    ConfigHelper(Vec<u8>),
    PrintAccessToken(Vec<u8>),
    Stderr(Vec<u8>),
}

fuzz_target!(|input: Input| {
    let started = datetime!(2026-01-01 0:00 UTC);
    let now = datetime!(2026-01-01 0:00:01 UTC);
    let hour = Duration::from_secs(3600);
    let read = match &input {
        Input::ConfigHelper(bytes) => Some(fuzzing::config_helper(bytes, started, now, hour)),
        Input::PrintAccessToken(bytes) => Some(fuzzing::print_access_token(bytes, started, hour)),
        Input::Stderr(bytes) => {
            let excerpt = fuzzing::stderr_excerpt(bytes);
            assert!(excerpt.chars().count() <= fuzzing::EXCERPT_CHARS + 1);
            credkit_fuzz::assert_clean("an excerpt", &excerpt, &[]);
            let _ = fuzzing::stderr_classes(&String::from_utf8_lossy(bytes));
            None
        }
    };
    match read {
        Some(Ok(token)) => {
            let text = token.secret().expose_secret();
            assert!(http::HeaderValue::from_str(&format!("Bearer {text}")).is_ok());
            assert!(token.expiry().is_none_or(|expiry| expiry > now));
        }
        Some(Err(reason)) => credkit_fuzz::assert_clean("a reason", &reason, &[]),
        None => {}
    }
});
