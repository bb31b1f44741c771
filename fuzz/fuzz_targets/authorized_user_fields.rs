//! `authorized_user` documents built from known member names and hostile values, with secrets
//! planted where secrets go: loading never panics, errors never carry a planted secret, and a
//! document that loads survives a round trip through `to_json`.
#![no_main]

use arbitrary::Arbitrary;
use credkit_fuzz::{SECRET_MEMBERS, assert_debug_clean, assert_error_clean};
use credkit_refresh_token::UserCredentials;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[derive(Arbitrary, Debug)]
enum Name {
    Type,
    ClientId,
    ClientSecret,
    RefreshToken,
    Token,
    Expiry,
    Scopes,
    QuotaProjectId,
    TokenUri,
    UniverseDomain,
    Account,
    RaptToken,
    TrustBoundary,
    Other(String),
}

impl Name {
    /// Whether the member holds a secret (an error may quote other members).
    fn is_secret(&self) -> bool {
        SECRET_MEMBERS.contains(&self.as_str())
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Type => "type",
            Self::ClientId => "client_id",
            Self::ClientSecret => "client_secret",
            Self::RefreshToken => "refresh_token",
            Self::Token => "token",
            Self::Expiry => "expiry",
            Self::Scopes => "scopes",
            Self::QuotaProjectId => "quota_project_id",
            Self::TokenUri => "token_uri",
            Self::UniverseDomain => "universe_domain",
            Self::Account => "account",
            Self::RaptToken => "rapt_token",
            Self::TrustBoundary => "trust_boundary",
            Self::Other(name) => name,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Val {
    /// The planted secret for this member.
    Secret,
    /// The planted secret with hostile text around it.
    Wrapped(String, String),
    Text(String),
    AuthorizedUser,
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<String>),
    Object,
}

#[derive(Arbitrary, Debug)]
struct Input {
    members: Vec<(Name, Val)>,
}

fuzz_target!(|input: Input| {
    let mut document = Map::new();
    let mut secrets = Vec::new();
    for (index, (name, val)) in input.members.iter().enumerate() {
        let planted = format!("1//planted-{index}-Zq9xK4mW");
        let value = match val {
            Val::Secret => {
                if name.is_secret() {
                    secrets.push(planted.clone());
                }
                Value::from(planted)
            }
            Val::Wrapped(before, after) => {
                if name.is_secret() {
                    secrets.push(planted.clone());
                }
                Value::from(format!("{before}{planted}{after}"))
            }
            Val::Text(text) => Value::from(text.as_str()),
            Val::AuthorizedUser => Value::from("authorized_user"),
            Val::Int(n) => json!(n),
            Val::Float(x) => json!(x),
            Val::Bool(b) => json!(b),
            Val::Null => Value::Null,
            Val::List(items) => json!(items),
            Val::Object => json!({"nested": true}),
        };
        document.insert(name.as_str().to_owned(), value);
    }
    // A planted secret that a non-secret member also holds (hostile text may spell it out) is
    // that member's text as well: showing the member is no leak.
    let public: String = document
        .iter()
        .filter(|(name, _)| !SECRET_MEMBERS.contains(&name.as_str()))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|secret| !public.contains(secret))
        .collect();
    let value = Value::Object(document);
    match UserCredentials::from_authorized_user_info(&value, None) {
        Ok(creds) => {
            assert_debug_clean(&creds, &secrets);
            credkit_fuzz::assert_round_trip(&value, &creds);
        }
        Err(error) => assert_error_clean(&credkit_core::Error::from(error), &secrets),
    }
});
