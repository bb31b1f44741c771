//! Invariants shared by the fuzz targets: what any rendering of an error may never contain.

use std::error::Error as _;
use std::fmt::Debug;

/// Panics if `text` holds any of `secrets` (those of 8 bytes or more: shorter ones are common
/// words the text may quote innocently) or a raw control character.
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
