//! Redis key names: a caller's key never appears in Redis (it may name a user or hold a
//! secret); its SHA-256 does, under the configured prefix.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The Redis names that belong to one caller key.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// The hash holding the record (`rec`) and its generation (`gen`).
    pub(crate) record: String,
    /// The lease: a string holding the holder's random owner value, with a time to live.
    pub(crate) lease: String,
    /// The pub/sub channel a release is announced on.
    pub(crate) released: String,
}

impl Names {
    pub(crate) fn new(prefix: &str, key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = String::with_capacity(prefix.len() + 64);
        id.push_str(prefix);
        for byte in digest {
            let _ = write!(id, "{byte:02x}");
        }
        Self {
            lease: format!("{id}:lease"),
            released: format!("{id}:released"),
            record: id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hide_the_key_and_keep_the_prefix() {
        let names = Names::new("app:", "user:secret-ish");
        assert!(names.record.starts_with("app:"));
        assert_eq!(names.record.len(), 4 + 64);
        for name in [&names.record, &names.lease, &names.released] {
            assert!(!name.contains("secret"));
        }
        assert_ne!(names.record, Names::new("app:", "user:other").record);
    }
}
