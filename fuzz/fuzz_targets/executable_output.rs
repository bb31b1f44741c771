//! The executable source's parsers, any bytes: the response a program prints, the response
//! cached in its output file, responses built from known members and hostile values with a
//! token planted where tokens go, and the command-line splitter. Nothing panics; a token given
//! out is non-empty, bounded and free of control characters; a cache that is used is a response
//! that is accepted, and one that is an error is an error from the program too; errors are one
//! clean line that never quotes the planted token; a split line re-quoted splits the same.
//!
//! The first byte picks the mode: 0 a response (printed and cached) for OIDC credentials, 1 the
//! same for SAML credentials, 2 a command line, anything else a built response (`arbitrary`).
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use credkit_external_account::MAX_SUBJECT_TOKEN_BYTES;
use credkit_external_account::fuzzing;
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

/// The token planted in built responses: no message may quote it.
const PLANTED: &str = "eyJ.planted-subject-token";

/// 2026-01-01T00:00:00Z, the parsers' now.
const NOW: u64 = 1_767_225_600;

const TYPES: [&str; 5] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:oauth:token-type:access_token",
    "",
];

#[derive(Arbitrary, Debug)]
enum Member {
    Version,
    Success,
    TokenType,
    IdToken,
    SamlResponse,
    ExpirationTime,
    Code,
    Message,
    Other(String),
}

impl Member {
    fn name(&self) -> &str {
        match self {
            Self::Version => "version",
            Self::Success => "success",
            Self::TokenType => "token_type",
            Self::IdToken => "id_token",
            Self::SamlResponse => "saml_response",
            Self::ExpirationTime => "expiration_time",
            Self::Code => "code",
            Self::Message => "message",
            Self::Other(name) => name,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// One of the token types.
    Type(u8),
    /// The planted token, with text around it.
    Planted { before: String, after: String },
    /// An expiry this many seconds from now.
    Expiry(i32),
    List(Vec<i8>),
}

impl Json {
    fn value(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => json!(b),
            Self::Int(n) => json!(n),
            Self::Float(f) => json!(f),
            Self::Str(s) => json!(s),
            Self::Type(i) => json!(TYPES[usize::from(i) % TYPES.len()]),
            Self::Planted { before, after } => json!(format!("{before}{PLANTED}{after}")),
            Self::Expiry(offset) => json!(i64::try_from(NOW).unwrap() + i64::from(offset)),
            Self::List(items) => json!(items),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Built {
    members: Vec<(Member, Json)>,
    /// The token members hold the planted token exactly.
    plant: bool,
    expected: u8,
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// A token given out is one the exchange can carry.
fn check_token(token: &SecretString) {
    let text = token.expose_secret();
    assert!(!text.is_empty());
    assert!(text.len() <= MAX_SUBJECT_TOKEN_BYTES);
    assert!(!text.chars().any(char::is_control));
    credkit_fuzz::assert_secret_debug_hidden(token);
}

/// Both readings of `bytes` for `expected`, and what holds between them.
fn read(bytes: &[u8], expected: &str, secrets: &[&str]) {
    let printed = fuzzing::executable_output(bytes, expected, now());
    match &printed {
        Ok(Some(token)) => check_token(token),
        Ok(None) => {}
        Err(err) => credkit_fuzz::assert_error_clean(err, secrets),
    }
    match fuzzing::executable_cache(bytes, expected, now()) {
        Ok(Some(token)) => {
            check_token(&token);
            // A cache used is a response accepted, with the same token.
            let Ok(Some(printed)) = &printed else {
                panic!("a cache is used that the program's output would not be");
            };
            assert_eq!(printed.expose_secret(), token.expose_secret());
        }
        Ok(None) => {}
        Err(err) => {
            credkit_fuzz::assert_error_clean(&err, secrets);
            // Malformed is malformed wherever it is read (a value Python finds false is no
            // response from the program, and a malformed one in the cache).
            assert!(
                !matches!(printed, Ok(Some(_))),
                "a malformed cache is accepted from the program"
            );
        }
    }
}

/// `word` as one single-quoted shell word.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let jwt = TYPES[0];
    match mode {
        0 => read(rest, jwt, &[]),
        1 => read(rest, TYPES[2], &[]),
        2 => {
            let line = String::from_utf8_lossy(rest);
            if let Ok(words) = fuzzing::split_command(&line) {
                let requoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
                let again = fuzzing::split_command(&requoted.join(" "));
                assert_eq!(again.as_deref(), Ok(&words[..]), "a re-quoted split");
            }
        }
        _ => {
            let Ok(built) = Built::arbitrary_take_rest(Unstructured::new(rest)) else {
                return;
            };
            let mut response = Map::new();
            for (member, value) in built.members {
                response.insert(member.name().to_owned(), value.value());
            }
            if built.plant {
                for member in ["id_token", "saml_response"] {
                    response.insert(member.to_owned(), json!(PLANTED));
                }
            }
            let planted = built.plant
                || ["id_token", "saml_response"]
                    .iter()
                    .any(|m| response.get(*m).and_then(Value::as_str) == Some(PLANTED));
            let secrets: &[&str] = if planted { &[PLANTED] } else { &[] };
            let expected = TYPES[usize::from(built.expected) % TYPES.len()];
            let text = Value::Object(response).to_string();
            read(text.as_bytes(), expected, secrets);
        }
    }
});
