//! The keyring: the current data key and the retired ones.

use std::ffi::OsString;
use std::fmt;

use credkit_core::BuildError;
use zeroize::Zeroizing;

use super::key::DataKey;

/// The syntax of a keyring's text, for error messages.
const SYNTAX: &str = "ID:BASE64[,ID:BASE64...], the current key first";

/// The data keys of a [`SealedCodec`](super::SealedCodec): the current one, which seals every
/// record stored, and the retired ones, which still open the records sealed before a rotation.
/// A record names the key it was sealed with (by ID), so opening never guesses.
///
/// Rotate by making a new key current and listing the old one as retired; records move to the
/// new key as they are stored again ([`RecordCodec::is_stale`](credkit_core::RecordCodec::is_stale)
/// tells a re-encryption pass which ones are due). Drop a retired key only once no record is
/// sealed with it.
///
/// `Debug` shows the key IDs only. Cloning is cheap (the ciphers are shared).
///
/// # Examples
///
/// ```
/// use credkit_vault::{DataKey, Keyring};
///
/// let keyring = Keyring::new(DataKey::generate("2026-02")?)
///     .with_retired(DataKey::generate("2026-01")?)?;
/// assert_eq!(keyring.current_key_id(), "2026-02");
/// assert_eq!(keyring.retired_key_ids().collect::<Vec<_>>(), ["2026-01"]);
/// assert_eq!(format!("{keyring:?}"), r#"Keyring { current: "2026-02", retired: ["2026-01"] }"#);
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    current: DataKey,
    retired: Vec<DataKey>,
}

impl Keyring {
    /// The environment variable the `credkit vault` command reads the keyring from:
    /// `CREDKIT_VAULT_KEYS`.
    pub const VARIABLE: &str = "CREDKIT_VAULT_KEYS";

    /// A keyring whose current key is `current`, with no retired key.
    pub fn new(current: DataKey) -> Self {
        Self {
            current,
            retired: Vec::new(),
        }
    }

    /// Adds `key` as a retired key: it opens the records sealed with it, and seals none.
    ///
    /// # Errors
    ///
    /// The keyring already holds a key with the same ID.
    pub fn with_retired(mut self, key: DataKey) -> Result<Self, BuildError> {
        if self.find(key.id()).is_some() {
            return Err(BuildError::invalid_value(format!(
                "the data key ID {} is given twice; give each data key its own ID",
                key.id()
            )));
        }
        self.retired.push(key);
        Ok(self)
    }

    /// The keyring written as text: entries `ID:BASE64` separated by commas, the current key
    /// first, then the retired ones (white space around entries and around their parts is
    /// ignored). Each key is 32 bytes in base64, standard or URL-safe, padded or not.
    ///
    /// ```
    /// use credkit_vault::Keyring;
    ///
    /// let keyring = Keyring::parse(
    ///     "2026-02:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,\
    ///      2026-01:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA",
    /// )?;
    /// assert_eq!(keyring.current_key_id(), "2026-02");
    ///
    /// let err = Keyring::parse("2026-02:c2VjcmV0").unwrap_err();
    /// assert!(err.to_string().contains("32 bytes"));
    /// assert!(!err.to_string().contains("c2VjcmV0"));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Text without a key, an entry without `:`, an invalid ID, a key that is not base64 or not
    /// 32 bytes, an ID given twice. Messages name the entry by its position, never a key (nor
    /// an ID, unless given twice).
    pub fn parse(text: &str) -> Result<Self, BuildError> {
        parse(text, "the keyring text")
    }

    /// The keyring in the environment variable `variable` ([`Keyring::VARIABLE`],
    /// `CREDKIT_VAULT_KEYS`, as the `credkit vault` command reads it), written as
    /// [`parse`](Keyring::parse) reads it.
    ///
    /// ```no_run
    /// use credkit_vault::{Keyring, SealedCodec};
    ///
    /// let codec = SealedCodec::new(Keyring::from_env(Keyring::VARIABLE)?);
    /// # drop(codec);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The variable is not set or not UTF-8, or its value does not parse (see
    /// [`parse`](Keyring::parse)); the message names the variable, never its value.
    pub fn from_env(variable: &str) -> Result<Self, BuildError> {
        from_value(variable, std::env::var_os(variable))
    }

    /// The ID of the current key (the one that seals).
    pub fn current_key_id(&self) -> &str {
        self.current.id()
    }

    /// The IDs of the retired keys, in the order they were added.
    pub fn retired_key_ids(&self) -> impl Iterator<Item = &str> {
        self.retired.iter().map(DataKey::id)
    }

    /// The current key.
    pub(super) fn current(&self) -> &DataKey {
        &self.current
    }

    /// The key whose ID is `id`, current or retired.
    pub(super) fn find(&self, id: &str) -> Option<&DataKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|key| key.id() == id)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id())
            .field("retired", &self.retired_key_ids().collect::<Vec<_>>())
            .finish()
    }
}

/// The keyring in the value `value` of the environment variable `variable`.
pub(super) fn from_value(variable: &str, value: Option<OsString>) -> Result<Keyring, BuildError> {
    let Some(value) = value else {
        return Err(BuildError::loading(format!(
            "the environment variable {variable} is not set; set it to the vault's data keys, \
             {SYNTAX}"
        )));
    };
    let value = Zeroizing::new(value.into_string().map_err(|value| {
        drop(Zeroizing::new(value.into_encoded_bytes()));
        BuildError::loading(format!(
            "the environment variable {variable} is not UTF-8; set it to the vault's data keys, \
             {SYNTAX}"
        ))
    })?);
    parse(&value, &format!("the environment variable {variable}"))
}

/// The keyring in `text`, from `origin` (for messages).
fn parse(text: &str, origin: &str) -> Result<Keyring, BuildError> {
    if text.trim().is_empty() {
        return Err(BuildError::parsing(format!(
            "{origin} holds no data key; write {SYNTAX}"
        )));
    }
    let mut keyring: Option<Keyring> = None;
    for (index, entry) in text.split(',').enumerate() {
        let position = index + 1;
        let in_entry = |err: BuildError| {
            BuildError::parsing(format!("entry {position} of {origin}: {err}")).with_source(err)
        };
        let Some((id, base64)) = entry.split_once(':') else {
            return Err(BuildError::parsing(format!(
                "entry {position} of {origin} has no ':' between a key ID and a key; write {SYNTAX}"
            )));
        };
        let key = DataKey::from_base64(id.trim(), base64).map_err(in_entry)?;
        keyring = Some(match keyring {
            None => Keyring::new(key),
            Some(keyring) => keyring.with_retired(key).map_err(in_entry)?,
        });
    }
    keyring
        .ok_or_else(|| BuildError::parsing(format!("{origin} holds no data key; write {SYNTAX}")))
}
