//! Making text from a token endpoint (or any other untrusted party) safe to show: the secrets the
//! caller holds removed, control characters replaced, the length capped.

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The most characters [`scrub`] keeps from untrusted text before it cuts and appends
/// [`TRUNCATED`]: 256.
pub const MAX_TEXT_CHARS: usize = 256;

/// What [`scrub`] puts where it removed a secret.
pub const REDACTED: &str = "[REDACTED]";

/// What [`scrub`] appends to text it cut at [`MAX_TEXT_CHARS`].
pub const TRUNCATED: &str = "…[truncated]";

/// What [`scrub`] puts in place of a control character.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Secrets shorter than this many bytes are removed only where they stand as a word of their
/// own, so a one-letter test secret does not turn `invalid_grant` into `invalid_g[REDACTED]ant`.
const WHOLE_WORD_BELOW: usize = 8;

/// Text from an untrusted party made fit for an error message, a log line or a terminal.
///
/// In one pass over `text`:
///
/// 1. every occurrence of a non-empty secret in `secrets`, as is or form-encoded as credkit sends
///    it (`a/b` as `a%2Fb`), becomes [`REDACTED`] (the longest match wins where two overlap;
///    a secret shorter than 8 bytes only where no letter or digit touches it on either side, so
///    that error codes stay readable);
/// 2. every control character (C0, DEL, C1), line or paragraph separator and bidirectional
///    override becomes [`REPLACEMENT`], so the text stays on one line and cannot forge a log
///    entry or reorder a terminal line. A control character is replaced, never deleted: deleting
///    it could join two halves of a secret;
/// 3. after [`MAX_TEXT_CHARS`] characters the rest is dropped and [`TRUNCATED`] appended.
///    Secrets are removed before the cut, so a cut never leaves the start of a secret that the
///    endpoint echoed in full.
///
/// The work is bounded by the cap, not by the length of `text`. A secret the endpoint echoed only
/// in part, or transformed in some other way (reversed, base64-encoded), is not recognised.
///
/// Every provider passes the secrets it holds (refresh token, client secret, rapt token, access
/// and ID tokens) before it builds an error from endpoint text; [`error_from_response`] and
/// [`read_token_response`] do so with the secrets they are given.
///
/// [`error_from_response`]: crate::oauth::error_from_response
/// [`read_token_response`]: crate::oauth::read_token_response
///
/// # Examples
///
/// ```
/// use credkit_core::oauth::scrub;
/// use secrecy::SecretString;
///
/// let refresh = SecretString::from("1//0gRefresh");
/// let shown = scrub("Invalid refresh token: 1//0gRefresh\r\nx-forged: 1", &[&refresh]);
/// assert_eq!(shown, "Invalid refresh token: [REDACTED]\u{FFFD}\u{FFFD}x-forged: 1");
/// assert!(scrub(&"x".repeat(1000), &[]).ends_with("…[truncated]"));
/// ```
pub fn scrub(text: &str, secrets: &[&SecretString]) -> String {
    let needles = needles(secrets);
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_CHARS * 4) + TRUNCATED.len());
    let mut shown = 0;
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        if shown >= MAX_TEXT_CHARS {
            out.push_str(TRUNCATED);
            break;
        }
        let word_starts = !previous.is_some_and(char::is_alphanumeric);
        if let Some(after) = needles.iter().find_map(|needle| {
            let after = rest.strip_prefix(needle.as_str())?;
            let whole_word =
                word_starts && !after.chars().next().is_some_and(char::is_alphanumeric);
            (needle.len() >= WHOLE_WORD_BELOW || whole_word).then_some(after)
        }) {
            out.push_str(REDACTED);
            shown += REDACTED.len();
            previous = rest
                .get(..rest.len() - after.len())
                .and_then(|m| m.chars().last());
            rest = after;
            continue;
        }
        out.push(if is_unsafe(c) { REPLACEMENT } else { c });
        shown += 1;
        previous = Some(c);
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out
}

/// Whether `c` must not reach a log line or a terminal as is.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// The texts to remove, longest first: each secret and its form-encoded spelling.
fn needles(secrets: &[&SecretString]) -> Vec<Zeroizing<String>> {
    let mut needles = Vec::with_capacity(secrets.len() * 2);
    for secret in secrets {
        let raw = secret.expose_secret();
        if raw.is_empty() {
            continue;
        }
        let mut encoded = Zeroizing::new(String::with_capacity(raw.len() * 3));
        super::form::push_encoded(&mut encoded, raw.as_bytes());
        if *encoded != raw {
            needles.push(encoded);
        }
        let mut copy = Zeroizing::new(String::with_capacity(raw.len()));
        copy.push_str(raw);
        needles.push(copy);
    }
    needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
    needles
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn removes_secrets_in_both_spellings() {
        let secret = SecretString::from("1//a+b");
        assert_eq!(
            scrub("raw 1//a+b and sent 1%2F%2Fa%2Bb", &[&secret]),
            "raw [REDACTED] and sent [REDACTED]"
        );
    }

    #[test]
    fn longest_secret_wins_and_empty_ones_are_ignored() {
        let short = SecretString::from("abcdefgh");
        let long = SecretString::from("abcdefghij");
        let empty = SecretString::from("");
        assert_eq!(
            scrub("xabcdefghijx abcdefgh", &[&short, &long, &empty]),
            "x[REDACTED]x [REDACTED]"
        );
        assert_eq!(scrub("plain", &[&empty]), "plain");
    }

    #[test]
    fn short_secrets_go_only_as_whole_words() {
        let short = SecretString::from("r");
        let word = SecretString::from("abc");
        assert_eq!(scrub("invalid_grant", &[&short]), "invalid_grant");
        assert_eq!(
            scrub("token r rejected", &[&short]),
            "token [REDACTED] rejected"
        );
        assert_eq!(
            scrub("abc: abcd xabc (abc)", &[&word]),
            "[REDACTED]: abcd xabc ([REDACTED])"
        );
    }

    #[test]
    fn replaces_every_control_and_layout_character() {
        for c in [
            '\0', '\n', '\r', '\t', '\x1b', '\x7f', '\u{85}', '\u{9f}', '\u{2028}', '\u{202e}',
            '\u{2066}',
        ] {
            assert_eq!(scrub(&format!("a{c}b"), &[]), "a\u{FFFD}b", "{c:?}");
        }
        assert_eq!(scrub("é ü 日本", &[]), "é ü 日本");
    }

    #[test]
    fn caps_the_length_with_a_marker() {
        let long = "é".repeat(MAX_TEXT_CHARS + 1);
        let shown = scrub(&long, &[]);
        assert_eq!(
            shown.chars().count(),
            MAX_TEXT_CHARS + TRUNCATED.chars().count()
        );
        assert!(shown.ends_with(TRUNCATED));
        let exact = "x".repeat(MAX_TEXT_CHARS);
        assert_eq!(scrub(&exact, &[]), exact);
    }

    #[test]
    fn a_secret_across_the_cut_is_removed_whole() {
        let secret = SecretString::from("SECRETSECRETSECRET");
        let text = format!("{}SECRETSECRETSECRET", "x".repeat(MAX_TEXT_CHARS - 3));
        let shown = scrub(&text, &[&secret]);
        assert!(!shown.contains("SEC"), "{shown}");
    }

    #[test]
    fn a_redaction_counts_as_its_marker_toward_the_cap() {
        let secret = SecretString::from("longsecretvalue");
        let text = "longsecretvalue ".repeat(40);
        // Each "[REDACTED] " shows 11 characters: 23 of them make 253, the 24th marker passes
        // the cap of 256.
        let expected = format!("{}{REDACTED}{TRUNCATED}", "[REDACTED] ".repeat(23));
        assert_eq!(scrub(&text, &[&secret]), expected);
    }

    #[test]
    fn a_short_secret_right_after_a_redaction_is_inside_a_word() {
        let long = SecretString::from("abc12345");
        let short = SecretString::from("xyz");
        assert_eq!(scrub("abc12345xyz", &[&long, &short]), "[REDACTED]xyz");
        assert_eq!(
            scrub("abc12345 xyz", &[&long, &short]),
            "[REDACTED] [REDACTED]"
        );
    }

    proptest! {
        /// Whatever surrounds a secret, nothing of it of 12 characters or more, and no control
        /// character, survives.
        #[test]
        fn no_secret_or_control_survives(
            secret in "[A-Za-z0-9/+=._~-]{12,80}",
            before in any::<String>(),
            after in any::<String>(),
            repeat in 1_usize..3,
        ) {
            let text = format!("{before}{}{after}", secret.repeat(repeat));
            let shown = scrub(&text, &[&SecretString::from(secret.clone())]);
            prop_assert!(!shown.contains(&secret));
            prop_assert!(!shown.chars().any(is_unsafe));
            prop_assert!(shown.chars().count() <= MAX_TEXT_CHARS + REDACTED.len() + TRUNCATED.chars().count());
        }
    }
}
