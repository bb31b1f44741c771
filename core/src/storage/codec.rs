//! The hook through which a store's record bytes pass on their way out of the process and back:
//! where records are encrypted at rest.

use std::fmt::Debug;

use zeroize::Zeroizing;

use crate::Result;

/// Turns a record's JSON bytes ([`CredentialRecord::to_json`](crate::CredentialRecord::to_json))
/// into the bytes a store keeps, and back. Stores that keep records outside the process (Redis,
/// Postgres) take one; credkit-vault's `SealedCodec` encrypts with an AEAD.
///
/// Both directions are given the record's key (the caller's, as given to
/// [`Storage::store`](crate::Storage::store)): an encrypting codec binds it as associated data,
/// so that a record copied under another key fails to decode instead of serving one user's
/// tokens to another.
///
/// # Contract
///
/// - `decode(key, encode(key, json)) == json`.
/// - A `decode` error is reported as a record that cannot be read (permanent: `Credentials`
///   then replaces it with its next store). Never put the input bytes in an error message.
/// - Called on the async runtime's threads: keep it fast (a cipher, not a network call; a key
///   held by a KMS is unwrapped once, before the codec is made).
///
/// # Examples
///
/// A (toy) codec that flips every bit; a real one encrypts and authenticates.
///
/// ```
/// use credkit_core::{RecordCodec, Result};
/// use zeroize::Zeroizing;
///
/// #[derive(Debug)]
/// struct Flip;
///
/// impl RecordCodec for Flip {
///     fn encode(&self, _key: &str, json: &[u8]) -> Result<Vec<u8>> {
///         Ok(json.iter().map(|b| !b).collect())
///     }
///     fn decode(&self, _key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
///         Ok(Zeroizing::new(stored.iter().map(|b| !b).collect()))
///     }
/// }
///
/// let stored = Flip.encode("user-1", br#"{"version":1}"#)?;
/// assert_eq!(&Flip.decode("user-1", &stored)?[..], br#"{"version":1}"#);
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub trait RecordCodec: Send + Sync + Debug {
    /// The bytes to keep for the record under `key` whose JSON bytes are `json`.
    ///
    /// # Errors
    ///
    /// Any error (a cipher that fails); the store then fails with it.
    fn encode(&self, key: &str, json: &[u8]) -> Result<Vec<u8>>;

    /// The record's JSON bytes for the bytes `stored` under `key`.
    ///
    /// # Errors
    ///
    /// Any error (bytes that do not authenticate, or were sealed for another key); the load then
    /// fails as a record that cannot be read.
    fn decode(&self, key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>>;

    /// Whether `stored` should be encoded again on the next store (sealed with a key that is no
    /// longer the current one): what a re-encryption pass asks. Default: false.
    fn is_stale(&self, stored: &[u8]) -> bool {
        let _ = stored;
        false
    }
}

/// The default [`RecordCodec`]: the record's JSON as it is (the store is the trust boundary).
///
/// ```
/// use credkit_core::{PlainJson, RecordCodec};
///
/// assert_eq!(PlainJson::default().encode("k", b"{}")?, b"{}");
/// # Ok::<(), credkit_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct PlainJson;

impl RecordCodec for PlainJson {
    fn encode(&self, _key: &str, json: &[u8]) -> Result<Vec<u8>> {
        Ok(json.to_vec())
    }

    fn decode(&self, _key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(stored.to_vec()))
    }
}

crate::forward_impls! {
    trait RecordCodec {
        fn encode(&self, key: &str, json: &[u8]) -> Result<Vec<u8>>;
        fn decode(&self, key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
        fn is_stale(&self, stored: &[u8]) -> bool;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn plain_json_round_trips_and_is_never_stale() {
        let codec: Arc<dyn RecordCodec> = Arc::new(PlainJson);
        let stored = codec.encode("k", b"{\"a\":1}").unwrap();
        assert_eq!(stored, b"{\"a\":1}");
        assert_eq!(&codec.decode("k", &stored).unwrap()[..], b"{\"a\":1}");
        assert!(!codec.is_stale(&stored));
    }
}
