//! Data keys and their IDs.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD, STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT,
};
use credkit_core::BuildError;
use secrecy::SecretString;
use zeroize::Zeroizing;

/// The longest key ID, in bytes.
pub(super) const MAX_KEY_ID_LEN: usize = 64;
/// An AES-256 key: 32 bytes.
pub(super) const KEY_LEN: usize = 32;

/// Whether `id` is a key ID: 1 to 64 printable ASCII characters (`!` to `~`, no space) other
/// than `:` and `,`, which separate the entries of a keyring's text.
pub(super) fn valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':' && b != b',')
}

/// Checks `id`, saying what is wrong without repeating it (a key pasted where its ID goes must
/// not end up in a log).
pub(super) fn check_key_id(id: &str) -> Result<(), BuildError> {
    if valid_key_id(id) {
        return Ok(());
    }
    let what = if id.is_empty() {
        "is empty".to_owned()
    } else if id.len() > MAX_KEY_ID_LEN {
        format!("is {} bytes long", id.len())
    } else {
        "holds a space, a character that is not printable ASCII, ':' or ','".to_owned()
    };
    Err(BuildError::invalid_value(format!(
        "a data key ID {what}; name keys with 1 to {MAX_KEY_ID_LEN} printable ASCII characters \
         other than ':' and ',' (such as 2026-01)"
    )))
}

/// An AES-256 data key and its ID: what seals records. The ID is written in the header of every
/// record sealed with the key, so that a [`Keyring`](super::Keyring) finds the key again.
///
/// The key bytes are zeroized on drop and never shown: `Debug` prints the ID alone. An ID is
/// 1 to 64 printable ASCII characters other than `:` and `,` (no space); it is not secret.
///
/// # Examples
///
/// ```
/// use credkit_vault::DataKey;
///
/// let key = DataKey::from_base64("2026-01", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// assert_eq!(key.id(), "2026-01");
/// assert_eq!(format!("{key:?}"), r#"DataKey { id: "2026-01", .. }"#);
///
/// let fresh = DataKey::generate("2026-02")?;
/// assert_eq!(fresh.id(), "2026-02");
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct DataKey {
    id: String,
    bytes: Zeroizing<[u8; KEY_LEN]>,
    /// The AES-256-GCM cipher of `bytes`, made once.
    cipher: Arc<RandomizedNonceKey>,
}

impl DataKey {
    /// The key `bytes` under the ID `id`. Zeroize your own copy of the bytes once the key is
    /// made.
    ///
    /// # Errors
    ///
    /// An ID that is empty, longer than 64 bytes, or holds a space, a character that is not
    /// printable ASCII, `:` or `,` (the message does not repeat it).
    pub fn new(id: &str, bytes: [u8; KEY_LEN]) -> Result<Self, BuildError> {
        Self::of(id, Zeroizing::new(bytes))
    }

    /// The key in `bytes` (32 of them, a KMS's plaintext say) under the ID `id`.
    ///
    /// ```
    /// let key = credkit_vault::DataKey::from_slice("k1", &[7; 32])?;
    /// assert_eq!(key.id(), "k1");
    /// assert!(credkit_vault::DataKey::from_slice("k1", &[7; 16]).is_err());
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An invalid ID (see [`new`](DataKey::new)), or a length other than 32 bytes.
    pub fn from_slice(id: &str, bytes: &[u8]) -> Result<Self, BuildError> {
        check_key_id(id)?;
        let mut key = Zeroizing::new([0; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(wrong_length(bytes.len()));
        }
        key.copy_from_slice(bytes);
        Self::of(id, key)
    }

    /// The key whose 32 bytes `base64` encodes (standard or URL-safe alphabet, padded or not;
    /// `openssl rand -base64 32` makes one), under the ID `id`.
    ///
    /// # Errors
    ///
    /// An invalid ID (see [`new`](DataKey::new)), text that is not base64, or a key that is not
    /// 32 bytes long. The message repeats neither the ID nor the text (were they swapped, the
    /// ID would be the key).
    pub fn from_base64(id: &str, base64: &str) -> Result<Self, BuildError> {
        check_key_id(id)?;
        let bytes = decode_base64(base64).ok_or_else(|| {
            BuildError::invalid_value(
                "a data key is not base64; give its 32 bytes in base64 \
                 (openssl rand -base64 32 makes one)",
            )
        })?;
        Self::from_slice(id, &bytes)
    }

    /// A new key of 32 random bytes from aws-lc-rs's random generator, under the ID `id`. Keep
    /// it somewhere safe (see [`to_base64`](DataKey::to_base64)): records sealed with it can be
    /// opened only with it.
    ///
    /// # Errors
    ///
    /// An invalid ID (see [`new`](DataKey::new)), or the system's random source failed.
    pub fn generate(id: &str) -> Result<Self, BuildError> {
        check_key_id(id)?;
        let mut bytes = Zeroizing::new([0; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| {
            BuildError::loading("the system's random source failed to make a data key; try again")
        })?;
        Self::of(id, bytes)
    }

    /// The key `bytes` under `id` (checked), with its cipher.
    fn of(id: &str, bytes: Zeroizing<[u8; KEY_LEN]>) -> Result<Self, BuildError> {
        check_key_id(id)?;
        let cipher = RandomizedNonceKey::new(&AES_256_GCM, &bytes[..]).map_err(|_| {
            BuildError::invalid_value("aws-lc-rs refused a data key for AES-256-GCM")
        })?;
        Ok(Self {
            id: id.to_owned(),
            bytes,
            cipher: Arc::new(cipher),
        })
    }

    /// The key's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key bytes in base64 (standard alphabet, padded): what
    /// [`from_base64`](DataKey::from_base64) and [`Keyring::parse`](super::Keyring::parse) read.
    /// For writing a
    /// [`generate`](DataKey::generate)d key to a secret store once; it is the secret that
    /// protects every record.
    ///
    /// ```
    /// use credkit_vault::DataKey;
    /// use secrecy::ExposeSecret;
    ///
    /// let key = DataKey::generate("k1")?;
    /// let text = key.to_base64();
    /// let again = DataKey::from_base64("k1", text.expose_secret())?;
    /// assert_eq!(again.to_base64().expose_secret(), text.expose_secret());
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(&self.bytes[..]))
    }

    /// The key's AES-256-GCM cipher.
    pub(super) fn cipher(&self) -> &RandomizedNonceKey {
        &self.cipher
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The bytes `text` encodes in base64 (standard or URL-safe alphabet, padded or not; white space
/// around it ignored), decoded into a buffer that is zeroized whatever happens. The decoder's
/// error is dropped: it quotes a byte of the text.
pub(super) fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let text = text.trim();
    [STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT]
        .iter()
        .find_map(|engine| {
            let mut bytes = Zeroizing::new(vec![0; base64::decoded_len_estimate(text.len())]);
            let len = engine.decode_slice(text, &mut bytes[..]).ok()?;
            bytes.truncate(len);
            Some(bytes)
        })
}

/// A key of `len` bytes where 32 are needed.
fn wrong_length(len: usize) -> BuildError {
    BuildError::invalid_value(format!(
        "a data key must be 32 bytes long (AES-256), this one is {len}; \
         openssl rand -base64 32 makes one"
    ))
}
