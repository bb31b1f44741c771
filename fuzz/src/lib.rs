//! Invariants shared by the fuzz targets: what any rendering of an error may never contain.

use std::error::Error as _;
use std::fmt::Debug;

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
