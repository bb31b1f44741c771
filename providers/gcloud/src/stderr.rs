//! Reading gcloud's standard error: a short redacted excerpt for messages, and the heuristics
//! that decide whether a failure is about credentials, an unsupported command, or the network.

/// The longest excerpt of standard error an error message carries, in characters.
pub(crate) const EXCERPT_CHARS: usize = 200;

const REDACTED: &str = "[REDACTED]";

/// The first lines of `stderr` as one line of at most [`EXCERPT_CHARS`] characters: blank lines
/// dropped, control characters turned into spaces, anything token-like redacted (see
/// [`redact`]), and what else must not reach a terminal as is (line separators, bidirectional
/// overrides) replaced as [`credkit_core::oauth::scrub`] does. Empty if `stderr` has nothing
/// visible.
pub(crate) fn excerpt(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        // Enough lines to fill the excerpt; the rest is never looked at.
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    let visible: String = joined
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // Redact before cutting, so a cut can never leave an unrecognisable tail of a token.
    let redacted = redact(&visible);
    let cut = match redacted.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &redacted[..cut]),
        None => redacted,
    };
    // The shared rule for text bound for a terminal or a log line: line separators and
    // bidirectional overrides (which `is_control` lets through) cannot reorder or split it.
    // Shorter than scrub's cap, so nothing more is cut.
    credkit_core::oauth::scrub(&cut, &[])
}

/// Replaces every token-like run of `text` with `[REDACTED]`.
///
/// A run is a maximal stretch of letters, digits and `-_.~+/=` (the characters of access,
/// refresh and ID tokens). It is token-like when it contains `ya29.` (an access token), `1//`
/// (a refresh token) or a JWT's `eyJ`, or has a segment (between `.`, `/`, `+`, `=`
/// or `~`) of at least 20 letters, digits, `-` and `_` mixing letters and digits, or of at least
/// 40 of them whatever they are. Words, paths, e-mail addresses, URLs and project numbers of a
/// gcloud message pass unchanged; a long project id may be redacted, which errs on the safe side.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_run_char) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c| !is_run_char(c)).unwrap_or(tail.len());
        let run = &tail[..end];
        out.push_str(if is_token_like(run) { REDACTED } else { run });
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn is_run_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

fn is_token_like(run: &str) -> bool {
    run.contains("ya29.")
        || run.contains("1//")
        || run.contains("eyJ")
        || run.split(['.', '/', '+', '=', '~']).any(|segment| {
            let letters = segment.chars().any(|c| c.is_ascii_alphabetic());
            let digits = segment.chars().any(|c| c.is_ascii_digit());
            segment.len() >= 40 || (segment.len() >= 20 && letters && digits)
        })
}

/// Whether gcloud failed because of the stored credentials: the user must log in again,
/// reauthenticate, or select an account. Running another gcloud command would fail the same
/// way, so no fallback is tried.
///
/// Matched case-insensitively against gcloud's messages: `reauth`, `auth login`,
/// `credential`, `auth tokens` (as in "There was a problem refreshing your current auth
/// tokens"), `active account`, `invalid_grant`, `invalid_rapt`, `login required`.
pub(crate) fn is_credential_problem(stderr: &str) -> bool {
    const MARKERS: [&str; 8] = [
        "reauth",
        "auth login",
        "credential",
        "auth tokens",
        "active account",
        "invalid_grant",
        "invalid_rapt",
        "login required",
    ];
    contains_any(stderr, &MARKERS)
}

/// Whether gcloud did not understand the command (an old gcloud without `config-helper`):
/// `Invalid choice` or `unrecognized arguments`. Checked before [`is_credential_problem`],
/// because gcloud's "Maybe you meant" suggestions may name `gcloud auth login`.
pub(crate) fn is_unsupported_command(stderr: &str) -> bool {
    contains_any(stderr, &["invalid choice", "unrecognized arguments"])
}

/// Whether the failure looks passing: gcloud could not reach Google (name resolution,
/// connection, timeout, an unavailable service). Such errors are marked transient so the
/// retrying layer tries again; anything else is permanent.
pub(crate) fn is_transient_failure(stderr: &str) -> bool {
    const MARKERS: [&str; 9] = [
        "temporary failure",
        "timed out",
        "timeout",
        "connection",
        "network is unreachable",
        "unable to find the server",
        "max retries exceeded",
        "service unavailable",
        "try again",
    ];
    contains_any(stderr, &MARKERS)
}

fn contains_any(text: &str, markers: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    markers.iter().any(|marker| lower.contains(marker))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn redacts_tokens_and_keeps_prose() {
        let cases = [
            (
                "token ya29.a0AfH6SMB-xyz_1 leaked",
                "token [REDACTED] leaked",
            ),
            ("refresh 1//0gAbCdEf here", "refresh [REDACTED] here"),
            (
                "jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln end",
                "jwt [REDACTED] end",
            ),
            (
                "opaque Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5 x",
                "opaque [REDACTED] x",
            ),
            (&"a".repeat(45), REDACTED),
            (
                "ERROR: (gcloud.auth.print-access-token) Reauthentication failed.",
                "ERROR: (gcloud.auth.print-access-token) Reauthentication failed.",
            ),
            (
                "see /home/user/.config/gcloud/credentials.db or https://cloud.google.com/sdk",
                "see /home/user/.config/gcloud/credentials.db or https://cloud.google.com/sdk",
            ),
            (
                "account [user@example.com] project 32555940559",
                "account [user@example.com] project 32555940559",
            ),
            (
                "application-default-credentials are fine",
                "application-default-credentials are fine",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn excerpt_is_one_short_redacted_line() {
        let stderr = b"\nERROR: (gcloud.config.config-helper) boom\n\n  Please run:\n\r\n  $ gcloud auth login\x1b[0m\n";
        assert_eq!(
            excerpt(stderr),
            "ERROR: (gcloud.config.config-helper) boom Please run: $ gcloud auth login [0m"
        );
        let long = format!("ERROR: {} ya29.{}", "word ".repeat(60), "x".repeat(30));
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(b"\n \n"), "");
    }

    #[test]
    fn the_excerpt_cannot_reorder_or_split_a_line() {
        let stderr = "ERROR: \u{202E}nekot\u{202C} bad\u{2028}x-forged: 1\u{2066}";
        let shown = excerpt(stderr.as_bytes());
        assert!(
            !shown.contains(['\u{202E}', '\u{202C}', '\u{2028}', '\u{2066}']),
            "{shown:?}"
        );
        assert!(
            shown.starts_with("ERROR: ") && shown.contains("x-forged: 1"),
            "{shown:?}"
        );
    }

    #[test]
    fn a_token_cut_by_the_excerpt_is_still_redacted() {
        let stderr = format!("{}ya29.{}", "word ".repeat(39), "s".repeat(100));
        let cut = excerpt(stderr.as_bytes());
        assert!(!cut.contains("sss"), "{cut}");
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            "ya29\\.[A-Za-z0-9_-]{20,200}",
            "1//[A-Za-z0-9_-]{20,120}",
            "eyJ[A-Za-z0-9_-]{10,60}\\.eyJ[A-Za-z0-9_-]{10,200}\\.[A-Za-z0-9_-]{20,90}",
            "[A-Za-z0-9_-]{40,200}",
        ]
    }

    proptest! {
        /// However a token sits in gcloud's standard error, no piece of it of 12 characters or
        /// more survives into the excerpt.
        #[test]
        fn no_token_survives_the_excerpt(
            before in "[ -~\n]{0,150}",
            glue_before in prop_oneof![Just(""), Just(" "), Just("="), Just(": "), Just("'"), Just("\n")],
            token in token(),
            glue_after in prop_oneof![Just(""), Just(" "), Just("."), Just("'"), Just(")"), Just("\n")],
            after in "[ -~\n]{0,150}",
        ) {
            let stderr = format!("{before}{glue_before}{token}{glue_after}{after}");
            let shown = excerpt(stderr.as_bytes());
            let chars: Vec<char> = token.chars().collect();
            for piece in chars.windows(12) {
                let piece: String = piece.iter().collect();
                prop_assert!(!shown.contains(&piece), "{piece} leaked in {shown}");
            }
        }
    }

    #[test]
    fn classifies_gcloud_messages() {
        let reauth = "ERROR: (gcloud.auth.print-access-token) There was a problem refreshing your current auth tokens: Reauthentication failed. cannot prompt during non-interactive execution.";
        let no_account = "ERROR: (gcloud.config.config-helper) You do not currently have an active account selected.";
        let invalid = "ERROR: (gcloud.config) Invalid choice: 'config-helper'.\nMaybe you meant:\n  gcloud auth login";
        let network = "ERROR: (gcloud.auth.print-access-token) There was a problem refreshing your current auth tokens: HTTPSConnectionPool(host='oauth2.googleapis.com', port=443): Max retries exceeded (Temporary failure in name resolution)";
        let crash =
            "ERROR: gcloud crashed (AttributeError): 'NoneType' object has no attribute 'x'";

        assert!(is_credential_problem(reauth));
        assert!(is_credential_problem(no_account));
        assert!(is_unsupported_command(invalid));
        assert!(!is_unsupported_command(reauth));
        assert!(is_credential_problem(network));
        assert!(is_transient_failure(network));
        assert!(!is_transient_failure(reauth));
        assert!(!is_credential_problem(crash));
        assert!(!is_transient_failure(crash));
    }
}
