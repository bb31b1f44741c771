//! From a key to file names: a readable, sanitized prefix and a hash of the whole key, so no
//! key can climb out of the directory, two keys never share a file, and the name carries
//! nothing but a short readable hint.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// How many characters of the key the readable prefix keeps at most.
const PREFIX_CHARS: usize = 32;

/// How many bytes of the SHA-256 of the key the name carries (128 bits: no collisions).
const HASH_BYTES: usize = 16;

/// The stem shared by a key's record (`<stem>.json`) and lock file (`<stem>.lock`):
/// `<prefix>-<hash>`. The prefix keeps ASCII letters, digits, `-` and `_` of the key's first
/// characters and turns anything else into `_`; the hash is of the whole key, so keys that
/// sanitize alike still get their own files. No stem starts with a dot or holds a separator.
pub(crate) fn stem(key: &str) -> String {
    let mut stem: String = key
        .chars()
        .take(PREFIX_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        stem.push_str("key");
    }
    stem.push('-');
    let digest = Sha256::digest(key.as_bytes());
    for byte in digest.iter().take(HASH_BYTES) {
        // Writing to a String cannot fail.
        let _ = write!(stem, "{byte:02x}");
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_distinct() {
        let keys = [
            "",
            ".",
            "..",
            "../../etc/passwd",
            "/abs/path",
            "a\\b",
            "user:cid",
            "user_cid",
            "ünïcödé",
            "nul\0byte",
        ];
        let stems: Vec<String> = keys.iter().map(|k| stem(k)).collect();
        for (key, stem) in keys.iter().zip(&stems) {
            assert!(!stem.starts_with('.'), "{key:?} -> {stem}");
            assert!(
                stem.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{key:?} -> {stem}"
            );
            assert!(stem.len() <= PREFIX_CHARS + 1 + 2 * HASH_BYTES);
        }
        let mut unique = stems.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), stems.len());
    }

    #[test]
    fn names_are_stable_and_readable() {
        assert_eq!(stem("credkit-user"), stem("credkit-user"));
        assert!(stem("credkit-user").starts_with("credkit-user-"));
        let long = "x".repeat(500);
        assert!(stem(&long).starts_with(&"x".repeat(PREFIX_CHARS)));
        assert!(!stem(&long).contains(&"x".repeat(PREFIX_CHARS + 1)));
    }
}
