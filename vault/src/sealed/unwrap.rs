//! Envelope encryption: data keys wrapped by a KMS, unwrapped once when the keyring is made.

use std::fmt::{self, Debug};

use async_trait::async_trait;
use credkit_core::{BuildError, Error, ErrorKind, Result};

use super::key::{DataKey, check_key_id};
use super::keyring::Keyring;

/// Unwraps data keys wrapped (encrypted) by a key-management service: the plug-in point for
/// envelope encryption. The data keys live in configuration only as ciphertext; the KMS's key
/// never leaves the KMS. [`Keyring::unwrap_with`] calls it once per key when the keyring is
/// made, so sealing and opening records stays synchronous and never waits on the KMS.
///
/// An implementation calls its KMS's decrypt (Cloud KMS `decrypt`, AWS KMS `Decrypt`, Vault
/// transit's `decrypt`), then returns the plaintext as a [`DataKey`] with the ID it was given
/// ([`DataKey::from_slice`]).
///
/// # Examples
///
/// A toy unwrapper that XORs with a fixed pad (a real one calls a KMS):
///
/// ```
/// use credkit_core::{Result, RecordCodec};
/// use credkit_vault::{DataKey, KeyUnwrapper, Keyring, SealedCodec, WrappedKey};
///
/// #[derive(Debug)]
/// struct XorPad(u8);
///
/// #[async_trait::async_trait]
/// impl KeyUnwrapper for XorPad {
///     async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey> {
///         let plain: Vec<u8> = wrapped.iter().map(|b| b ^ self.0).collect();
///         Ok(DataKey::from_slice(key_id, &plain)?)
///     }
/// }
///
/// # credkit_testing::block_on(async {
/// let current = WrappedKey::new("2026-02", vec![0x5a; 32])?;
/// let retired = vec![WrappedKey::from_base64("2026-01", "WltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1s=")?];
/// let keyring = Keyring::unwrap_with(&XorPad(0x5a), current, retired).await?;
/// assert_eq!(keyring.current_key_id(), "2026-02");
///
/// let codec = SealedCodec::new(keyring);
/// let stored = codec.encode("user-1", b"{}")?;
/// assert_eq!(&codec.decode("user-1", &stored)?[..], b"{}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait KeyUnwrapper: Send + Sync + Debug {
    /// The data key whose wrapped (encrypted) bytes are `wrapped`, under the ID `key_id`.
    ///
    /// # Errors
    ///
    /// Any error from the KMS (keep its transience: a caller may retry a transient one). The
    /// error must not carry the plaintext key.
    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey>;
}

/// A data key wrapped by a KMS, with its ID: what [`Keyring::unwrap_with`] unwraps.
///
/// The wrapped bytes are ciphertext, but `Debug` still shows only the ID and their length.
///
/// ```
/// let key = credkit_vault::WrappedKey::new("2026-01", vec![1, 2, 3])?;
/// assert_eq!(key.id(), "2026-01");
/// assert_eq!(key.wrapped(), [1, 2, 3]);
/// assert_eq!(format!("{key:?}"), r#"WrappedKey { id: "2026-01", wrapped_len: 3 }"#);
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct WrappedKey {
    id: String,
    wrapped: Vec<u8>,
}

impl WrappedKey {
    /// The wrapped key `wrapped` under the ID `id`.
    ///
    /// # Errors
    ///
    /// An invalid ID (see [`DataKey::new`]).
    pub fn new(id: &str, wrapped: impl Into<Vec<u8>>) -> Result<Self, BuildError> {
        check_key_id(id)?;
        Ok(Self {
            id: id.to_owned(),
            wrapped: wrapped.into(),
        })
    }

    /// The wrapped key whose bytes `base64` encodes (standard or URL-safe, padded or not), as
    /// KMS command-line tools print them.
    ///
    /// # Errors
    ///
    /// An invalid ID, or text that is not base64.
    pub fn from_base64(id: &str, base64: &str) -> Result<Self, BuildError> {
        check_key_id(id)?;
        let wrapped = super::key::decode_base64(base64).ok_or_else(|| {
            BuildError::invalid_value(
                "a wrapped data key is not base64; give the KMS's ciphertext in base64",
            )
        })?;
        Self::new(id, wrapped.to_vec())
    }

    /// The key's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The wrapped bytes.
    pub fn wrapped(&self) -> &[u8] {
        &self.wrapped
    }
}

impl Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("id", &self.id)
            .field("wrapped_len", &self.wrapped.len())
            .finish()
    }
}

impl Keyring {
    /// The keyring of data keys wrapped by a KMS: `current` and `retired` unwrapped through
    /// `unwrapper` (all at once), then made into a keyring as [`new`](Keyring::new) and
    /// [`with_retired`](Keyring::with_retired) do. Call it once at startup; see
    /// [`KeyUnwrapper`] for an example.
    ///
    /// # Errors
    ///
    /// The first error of the unwrapper, as it returned it; a key unwrapped under another ID
    /// than the one asked for, or an ID given twice ([`ErrorKind::Configuration`]).
    pub async fn unwrap_with(
        unwrapper: &dyn KeyUnwrapper,
        current: WrappedKey,
        retired: Vec<WrappedKey>,
    ) -> Result<Self> {
        let unwrap = |wrapped: WrappedKey| async move {
            let key = unwrapper.unwrap(&wrapped.id, &wrapped.wrapped).await?;
            if key.id() != wrapped.id {
                return Err(Error::new(
                    ErrorKind::Configuration,
                    format!(
                        "the key unwrapper returned the data key {} for the wrapped key {}; \
                         return the key under the ID it was asked for",
                        key.id(),
                        wrapped.id
                    ),
                ));
            }
            Ok(key)
        };
        let (current, retired) = futures::future::try_join(
            unwrap(current),
            futures::future::try_join_all(retired.into_iter().map(unwrap)),
        )
        .await?;
        let keyring = retired
            .into_iter()
            .try_fold(Keyring::new(current), Keyring::with_retired)?;
        Ok(keyring)
    }
}
