//! Invariants shared by the fuzz targets: what any rendering of an error may never contain.

use std::error::Error as _;
use std::fmt::Debug;

use credkit_core::AccessToken;
use secrecy::SecretString;

/// The members of an `authorized_user` document whose values are secrets.
pub const SECRET_MEMBERS: [&str; 5] = [
    "refresh_token",
    "client_secret",
    "token",
    "rapt_token",
    "id_token",
];

/// Panics if `text` holds any of `secrets` (those of 8 bytes or more: shorter ones are common
/// words the text may quote innocently), a raw control character, or another character that
/// `oauth::scrub` replaces (line separators, bidirectional marks and overrides).
pub fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !text.contains(secret),
            "{what} leaks a planted secret of {} bytes",
            secret.len()
        );
    }
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what} holds a raw control character"
    );
    // What `oauth::scrub` replaces besides control characters: line and paragraph separators,
    // and the marks and overrides that reorder a terminal line.
    assert!(
        !text.chars().any(|c| matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )),
        "{what} holds a line separator or a bidirectional mark"
    );
    assert!(!text.contains('\n'), "{what} spans several lines");
}

/// Checks every rendering of `error`: `Display`, `Debug`, and each `source()` down the chain.
pub fn assert_error_clean(error: &credkit_core::Error, secrets: &[&str]) {
    assert_clean("Display", &error.to_string(), secrets);
    assert_debug_clean(error, secrets);
    let mut source = error.source();
    while let Some(cause) = source {
        assert_clean("a source's Display", &cause.to_string(), secrets);
        source = cause.source();
    }
    for cause in error.causes() {
        assert_error_clean(cause, secrets);
    }
}

/// `Debug` may span lines with `{:#?}`, but `{:?}` never holds a secret or a raw control
/// character (they are escaped).
pub fn assert_debug_clean(value: &impl Debug, secrets: &[&str]) {
    let text = format!("{value:?}");
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!text.contains(secret), "Debug leaks a planted secret");
    }
    assert!(
        !text.chars().any(char::is_control),
        "Debug holds a raw control character"
    );
}

/// Panics unless `secret`'s `Debug` is the same whatever the secret holds. Asking whether the
/// rendering contains the secret is not enough: a secret may spell part of the rendering
/// itself (`SecretBox<str>([REDACTED`, a reply the fuzzer found).
pub fn assert_secret_debug_hidden(secret: &SecretString) {
    assert_eq!(
        format!("{secret:?}"),
        format!("{:?}", another_secret()),
        "Debug depends on the secret"
    );
}

/// Panics unless `token`'s `Debug` is that of a token equal to it in all but its secrets (the
/// access token, ID token, rotated refresh token and provider secrets): `Debug` shows what the
/// token is, never what it holds. A reply may put the secret's text in a member shown by
/// design (the token type, a scope), so "does not contain the secret" is the wrong check.
pub fn assert_token_debug_hidden(token: &AccessToken) {
    assert_eq!(
        format!("{token:?}"),
        format!("{:?}", with_other_secrets(token)),
        "Debug depends on a token's secret"
    );
}

fn another_secret() -> SecretString {
    SecretString::from("another secret")
}

/// `token` with every secret replaced.
fn with_other_secrets(token: &AccessToken) -> AccessToken {
    let mut twin = AccessToken::from_secret(another_secret())
        .with_optional_expiry(token.expiry())
        .with_token_type(token.token_type());
    if let Some(issued_at) = token.issued_at() {
        twin = twin.with_issued_at(issued_at);
    }
    if let Some(scopes) = token.granted_scopes() {
        twin = twin.with_granted_scopes(scopes);
    }
    if token.id_token().is_some() {
        twin = twin.with_id_token(another_secret());
    }
    for (key, value) in token.extra() {
        twin = twin.with_extra(key.clone(), value.clone());
    }
    if token.rotated_refresh_token().is_some() {
        twin = twin.with_rotated_refresh_token(another_secret());
    }
    for (name, _) in token.provider_secrets() {
        twin = twin.with_provider_secret(name, another_secret());
    }
    if let Some(project) = token.quota_project() {
        twin = twin.with_quota_project(project);
    }
    twin
}

/// Whether a member the refresh needs is present but `null`: the reference checks required
/// members by presence, so such a document loads, and `to_json` leaves the member out (as
/// `json.dumps` of the reference's dict does). Parity keeps that; such documents skip the
/// round trip.
pub fn has_null_required_member(value: &serde_json::Value) -> bool {
    ["refresh_token", "client_id", "client_secret"]
        .iter()
        .any(|name| value.get(name).is_some_and(serde_json::Value::is_null))
}

/// Writes `creds` out and loads the document again.
pub fn round_trip(
    creds: &credkit_refresh_token::UserCredentials,
) -> (
    credkit_refresh_token::UserCredentials,
    zeroize::Zeroizing<String>,
) {
    let written = creds.to_json(&[]);
    let again: serde_json::Value = serde_json::from_str(&written).expect("to_json writes JSON");
    let reloaded = credkit_refresh_token::UserCredentials::from_authorized_user_info(&again, None)
        .expect("what to_json writes loads again");
    (reloaded, written)
}

/// Loaded credentials reach a fixed point after one round trip through `to_json` (the first
/// may drop the sub-second part of a default expiry, as the reference's parser does).
pub fn assert_round_trip(
    value: &serde_json::Value,
    creds: &credkit_refresh_token::UserCredentials,
) {
    if has_null_required_member(value) {
        return;
    }
    let (once, _) = round_trip(creds);
    let (twice, second) = round_trip(&once);
    let (_, third) = round_trip(&twice);
    assert_eq!(*second, *third, "a round trip changes nothing");
}
