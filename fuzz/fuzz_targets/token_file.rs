//! A handed-in token file (`credkit_access_token::TokenFileSource`'s parser), raw bytes or a
//! JSON document around a planted token with hostile expiry members (`arbitrary`): never a
//! panic or an overflow; a token read fits a header, is the planted one when one was planted,
//! is never expired, and is redacted in `Debug`; a refusal's text is one clean line that
//! quotes nothing.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use credkit_access_token::fuzzing;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::macros::datetime;

const PLANTED: &str = "ya29.planted-token-file";

/// The members an expiry may hide in, and one the parser ignores.
const MEMBERS: [&str; 7] = [
    "expiry",
    "expireTime",
    "expire_time",
    "token_expiry",
    "expires_in",
    "accessToken",
    "token_type",
];

#[derive(Arbitrary, Debug)]
enum Content {
    Raw(Vec<u8>),
    Planted {
        /// Which of [`MEMBERS`] each value goes into.
        members: Vec<(u8, String)>,
        /// JSON values written as they are (numbers, `null`, broken text).
        raw: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    content: Content,
    /// The file's modification time, in seconds from `now` (none: a variable's value).
    written: Option<i32>,
    /// The re-read interval, in seconds (none: an unknown expiry stays unknown).
    reread: Option<u32>,
}

fuzz_target!(|input: Input| {
    let now = datetime!(2026-01-01 0:00 UTC);
    let (bytes, planted) = match &input.content {
        Content::Raw(bytes) => (bytes.clone(), false),
        Content::Planted { members, raw } => {
            let mut doc = format!(r#"{{"access_token": "{PLANTED}""#);
            for (which, value) in members.iter().take(8) {
                let member = MEMBERS[usize::from(*which) % MEMBERS.len()];
                let value = if *raw {
                    value.clone()
                } else {
                    serde_json::Value::String(value.clone()).to_string()
                };
                doc.push_str(&format!(r#", "{member}": {value}"#));
            }
            doc.push('}');
            (doc.into_bytes(), true)
        }
    };
    let written = input
        .written
        .map(|offset| now + time::Duration::seconds(i64::from(offset)));
    let reread = input.reread.map(|s| Duration::from_secs(u64::from(s)));
    match fuzzing::token_file(&bytes, written, now, reread) {
        Ok(token) => {
            let text = token.secret().expose_secret();
            assert!(http::HeaderValue::from_str(&format!("Bearer {text}")).is_ok());
            assert!(!text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic()));
            if planted {
                assert_eq!(text, PLANTED);
                assert!(!format!("{token:?}").contains(PLANTED));
            }
            assert!(token.expiry().is_none_or(|expiry: OffsetDateTime| expiry > now
                || reread == Some(Duration::ZERO)));
        }
        Err(refusal) => {
            credkit_fuzz::assert_clean("a refusal", &refusal.to_string(), &[PLANTED]);
            credkit_fuzz::assert_clean("a refusal", &format!("{refusal:?}"), &[PLANTED]);
        }
    }
});
