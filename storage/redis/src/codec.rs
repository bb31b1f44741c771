//! The hook to transform a record's bytes before they leave the process.

use std::fmt::Debug;

use credkit_core::Result;
use zeroize::Zeroizing;

/// Turns a record's JSON bytes ([`CredentialRecord::to_json`](credkit_core::CredentialRecord::to_json))
/// into the bytes kept in Redis, and back.
///
/// Redis is the trust boundary by default: records (access and refresh tokens included) are
/// stored as they are, readable by anyone who can read the Redis server, its snapshots or its
/// replicas. A codec is the place to encrypt them first (for example with a key from your
/// secret manager and an AEAD cipher): every byte written by
/// [`RedisStorage`](crate::RedisStorage) passes through [`encode`](RecordCodec::encode), every
/// byte read through [`decode`](RecordCodec::decode).
///
/// # Contract
///
/// - `decode(encode(json)) == json`.
/// - A `decode` error is reported as a record that cannot be read (permanent: `Credentials`
///   then replaces it with its next store). Never put the input bytes in an error message.
/// - Called on the async runtime's threads: keep it fast (a cipher, not a network call).
///
/// # Examples
///
/// A (toy) codec that flips every bit; a real one encrypts and authenticates.
///
/// ```
/// use credkit_core::Result;
/// use credkit_storage_redis::RecordCodec;
/// use zeroize::Zeroizing;
///
/// #[derive(Debug)]
/// struct Flip;
///
/// impl RecordCodec for Flip {
///     fn encode(&self, json: &[u8]) -> Result<Vec<u8>> {
///         Ok(json.iter().map(|b| !b).collect())
///     }
///     fn decode(&self, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
///         Ok(Zeroizing::new(stored.iter().map(|b| !b).collect()))
///     }
/// }
///
/// let stored = Flip.encode(br#"{"version":1}"#)?;
/// assert_eq!(&Flip.decode(&stored)?[..], br#"{"version":1}"#);
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub trait RecordCodec: Send + Sync + Debug {
    /// The bytes to keep in Redis for the record's JSON bytes `json`.
    ///
    /// # Errors
    ///
    /// Any error (a cipher that fails); the store then fails with it.
    fn encode(&self, json: &[u8]) -> Result<Vec<u8>>;

    /// The record's JSON bytes for the bytes `stored` in Redis.
    ///
    /// # Errors
    ///
    /// Any error (bytes that do not authenticate); the load then fails as a record that cannot
    /// be read.
    fn decode(&self, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
}

/// The default [`RecordCodec`]: the record's JSON as it is (Redis is the trust boundary).
///
/// ```
/// use credkit_storage_redis::{PlainJson, RecordCodec};
///
/// assert_eq!(PlainJson::default().encode(b"{}")?, b"{}");
/// # Ok::<(), credkit_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct PlainJson;

impl RecordCodec for PlainJson {
    fn encode(&self, json: &[u8]) -> Result<Vec<u8>> {
        Ok(json.to_vec())
    }

    fn decode(&self, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(stored.to_vec()))
    }
}
