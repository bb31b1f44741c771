//! Encryption at rest: [`SealedCodec`], a [`RecordCodec`] that seals every credential record with
//! AES-256-GCM (aws-lc-rs) before a store writes it, under a [`Keyring`] of [`DataKey`]s that
//! rotates, optionally unwrapped from a KMS at startup ([`KeyUnwrapper`]). The format and what
//! it protects against are documented on [`SealedCodec`] (this module is private: its items are
//! re-exported at the crate root).
//!
//! Files: `format.rs` (the bytes), `key.rs` ([`DataKey`], key IDs), `keyring.rs` ([`Keyring`],
//! its text and the environment), `unwrap.rs` ([`KeyUnwrapper`], [`WrappedKey`]), `error.rs`
//! ([`SealedError`] and the codec's errors).

mod error;
mod format;
mod key;
mod keyring;
#[cfg(test)]
mod tests;
mod unwrap;

use aws_lc_rs::aead::{Aad, Nonce};
use credkit_core::{RecordCodec, Result};
use zeroize::Zeroizing;

pub use error::SealedError;
pub use key::DataKey;
pub use keyring::Keyring;
pub use unwrap::{KeyUnwrapper, WrappedKey};

use format::{NONCE_LEN, TAG_LEN};

/// The [`RecordCodec`] that encrypts records at rest: it seals each record with AES-256-GCM
/// (aws-lc-rs) under a [`Keyring`]'s current key, binding it to the record's key, and opens it
/// with the key its header names.
///
/// ```
/// use credkit_core::RecordCodec;
/// use credkit_vault::{Keyring, SealedCodec};
///
/// // CREDKIT_VAULT_KEYS="2026-02:<base64>,2026-01:<base64>" in production: Keyring::from_env.
/// let keyring = Keyring::parse(
///     "2026-02:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,\
///      2026-01:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=",
/// )?;
/// let codec = SealedCodec::new(keyring);
/// let stored = codec.encode("user-1", br#"{"version":1}"#)?;
/// assert_eq!(&codec.decode("user-1", &stored)?[..], br#"{"version":1}"#);
/// assert!(codec.decode("user-2", &stored).is_err()); // Sealed for user-1 only.
/// assert!(!codec.is_stale(&stored)); // Sealed with the current key.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Give the codec to a store that keeps records outside the process
/// (`RedisStorageBuilder::with_codec` in credkit-storage-redis, say). Sealing and opening are
/// synchronous and take about a microsecond: no I/O, no lock. `decode` errors are permanent
/// [`ErrorKind::Storage`](credkit_core::ErrorKind::Storage) errors whose source is a
/// [`SealedError`]; they never quote the stored bytes. `Debug` shows the key IDs only.
///
/// # What it protects against
///
/// - **A copy of the store**: a dump, a backup, a replica, a disk snapshot, a stolen volume. The
///   records are ciphertext; without the data keys they reveal no token.
/// - **An operator reading rows** (a `redis-cli GET`, a `SELECT`): the same.
/// - **A record moved under another key**: the record's key (the user ID it is stored under) is
///   bound as associated data, so a record copied from one user to another fails to open
///   ([`SealedError::ForeignOrAltered`]) instead of serving one user's tokens to another.
/// - **Tampering**: any change to any byte (header, nonce, ciphertext or tag) fails to open. A
///   record that fails to open is reported as a record that cannot be read (a permanent storage
///   error); it is never served.
///
/// # What it does not protect against
///
/// - **A compromised process that holds the keys**: it can open every record, as the vault
///   does. Encryption at rest protects the store, not the service.
/// - **Losing a key**: a record sealed with a key nobody holds any more is lost (its user signs
///   in again). Deleting a key is crypto-shredding of every record sealed with it; keep the
///   keys (or the KMS's wrapped keys and the KMS key) as carefully as backups.
/// - **Metadata**: record keys (user IDs), the number of records, their sizes (the ciphertext is
///   as long as the JSON, so the length of a token shows), the data key's ID, the store's
///   generations and when records are written are all visible to whoever reads the store.
/// - **Replay**: an older record of the same key, written back in place of the current one (the
///   same user's refresh token from last month's backup), opens fine: the codec sees only bytes
///   and a key. Fencing and generations are the store's job, and a revoked refresh token is
///   refused by Google anyway.
///
/// # Format
///
/// A sealed record (version 1) is, byte by byte:
///
/// | offset | length | content |
/// |---|---|---|
/// | 0 | 3 | magic: `CKV` (`0x43 0x4B 0x56`) |
/// | 3 | 1 | format version: `0x01` |
/// | 4 | 1 | *n*, the length of the key ID (1 to 64) |
/// | 5 | *n* | the key ID: the [`DataKey`]'s ID, printable ASCII |
/// | 5 + *n* | 12 | the nonce: 96 random bits from aws-lc-rs's generator, new for every seal |
/// | 17 + *n* | *m* | the ciphertext: the record's JSON (*m* bytes) under AES-256-GCM |
/// | 17 + *n* + *m* | 16 | the GCM tag |
///
/// The associated data is the header (bytes 0 to 5 + *n*: magic, version, length and key ID)
/// followed by the record's key as UTF-8 (the `key` argument of
/// [`encode`](RecordCodec::encode) and [`decode`](RecordCodec::decode)). The header is
/// self-delimiting, so no two (header, key) pairs give the same associated data. The nonce is
/// authenticated by GCM itself. A sealed record is 33 + *n* bytes longer than its JSON.
///
/// Random 96-bit nonces stay safe for about 2³² seals per key (NIST SP 800-38D): rotate the
/// current key well before four billion stores.
///
/// # Keys and rotation
///
/// A [`Keyring`] holds the current key (which seals) and retired keys (which only open). A
/// record names its key by ID, so opening picks the right key at once; a record sealed with a
/// key the ring does not hold fails with [`SealedError::UnknownKey`], naming the ID. To rotate:
/// make a new key current, keep the old one as retired, let records be stored again (or run a
/// re-encryption pass over the records whose [`is_stale`](RecordCodec::is_stale) is true), then
/// drop the old key once none is left.
///
/// Keys come from the environment or a secret file ([`Keyring::from_env`], [`Keyring::parse`]:
/// `ID:BASE64,ID:BASE64`, current first), or from a KMS ([`Keyring::unwrap_with`]: data keys
/// stored wrapped, unwrapped once at startup). No error and no `Debug` output shows key bytes;
/// key IDs are not secret and are shown.
///
/// # Examples
///
/// ```
/// use credkit_core::RecordCodec;
/// use credkit_vault::{DataKey, Keyring, SealedCodec, SealedError};
///
/// let old = DataKey::generate("2026-01")?;
/// let before = SealedCodec::new(Keyring::new(old.clone()));
/// let stored = before.encode("user-1", b"{}")?;
///
/// // After a rotation the old key still opens what it sealed, and the record is stale.
/// let after = SealedCodec::new(Keyring::new(DataKey::generate("2026-02")?).with_retired(old)?);
/// assert_eq!(&after.decode("user-1", &stored)?[..], b"{}");
/// assert!(after.is_stale(&stored));
/// assert_eq!(SealedCodec::key_id_of(&stored), Some("2026-01"));
///
/// // Without it, the error names the key.
/// let lost = SealedCodec::new(Keyring::new(DataKey::generate("2026-02")?));
/// let err = lost.decode("user-1", &stored).unwrap_err();
/// assert_eq!(
///     SealedError::of(&err),
///     Some(&SealedError::UnknownKey { key_id: "2026-01".to_owned() })
/// );
/// assert!(err.to_string().contains("add the retired key with with_retired"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct SealedCodec {
    keyring: Keyring,
}

impl SealedCodec {
    /// The codec sealing with `keyring`'s current key and opening with any of its keys.
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The ID of the data key `stored` says it was sealed with, if it is a sealed record of a
    /// format this version reads (nothing is authenticated: the header is only read).
    ///
    /// ```
    /// assert_eq!(credkit_vault::SealedCodec::key_id_of(br#"{"version":1}"#), None);
    /// ```
    pub fn key_id_of(stored: &[u8]) -> Option<&str> {
        format::parse(stored).ok().map(|parts| parts.key_id)
    }
}

impl RecordCodec for SealedCodec {
    fn encode(&self, key: &str, json: &[u8]) -> Result<Vec<u8>> {
        let data_key = self.keyring.current();
        let header = format::header(data_key.id());
        let aad = format::associated_data(&header, key);
        let body = header.len() + NONCE_LEN;
        // Sized once, so the plaintext is never left behind in a reallocated buffer; zeroized if
        // sealing fails (the buffer then holds the plaintext).
        let mut sealed = Zeroizing::new(Vec::with_capacity(body + json.len() + TAG_LEN));
        sealed.extend_from_slice(&header);
        sealed.resize(body, 0);
        sealed.extend_from_slice(json);
        let (nonce, tag) = data_key
            .cipher()
            .seal_in_place_separate_tag(Aad::from(aad), &mut sealed[body..])
            .map_err(|_| error::seal_failed())?;
        sealed[header.len()..body].copy_from_slice(nonce.as_ref());
        sealed.extend_from_slice(tag.as_ref());
        Ok(std::mem::take(&mut *sealed))
    }

    fn decode(&self, key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let parts = format::parse(stored).map_err(error::refused)?;
        let data_key = self.keyring.find(parts.key_id).ok_or_else(|| {
            error::refused(SealedError::UnknownKey {
                key_id: parts.key_id.to_owned(),
            })
        })?;
        let aad = format::associated_data(parts.header, key);
        let nonce = Nonce::try_assume_unique_for_key(parts.nonce)
            .map_err(|_| error::refused(SealedError::Damaged))?;
        let mut json = Zeroizing::new(parts.sealed.to_vec());
        let len = data_key
            .cipher()
            .open_in_place(nonce, Aad::from(aad), &mut json[..])
            .map_err(|_| error::refused(SealedError::ForeignOrAltered))?
            .len();
        json.truncate(len);
        Ok(json)
    }

    /// True unless `stored` is sealed with the keyring's current key: sealed with a retired key
    /// (or with one the keyring does not hold), or not a sealed record this version reads.
    fn is_stale(&self, stored: &[u8]) -> bool {
        Self::key_id_of(stored) != Some(self.keyring.current_key_id())
    }
}
