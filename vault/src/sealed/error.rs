//! Why sealed bytes were refused ([`SealedError`]), and the errors the codec returns.

use std::error::Error as StdError;
use std::fmt;

use credkit_core::{Error, ErrorKind};

/// Why [`SealedCodec`](super::SealedCodec) refused to open stored bytes: the
/// [`source`](StdError::source) of every error its `decode` returns (find it with
/// [`SealedError::of`]).
///
/// Every refusal is permanent (the same bytes fail the same way), of kind
/// [`ErrorKind::Storage`]; none quotes the stored bytes.
///
/// ```
/// use credkit_core::{ErrorKind, RecordCodec};
/// use credkit_vault::{DataKey, Keyring, SealedCodec, SealedError};
///
/// let codec = SealedCodec::new(Keyring::new(DataKey::generate("k1")?));
/// let stored = codec.encode("user-1", br#"{"version":1}"#)?;
///
/// let err = codec.decode("user-2", &stored).unwrap_err();
/// assert_eq!(SealedError::of(&err), Some(&SealedError::ForeignOrAltered));
/// assert_eq!(err.kind(), ErrorKind::Storage);
/// assert!(!err.is_transient());
/// assert!(err.to_string().contains("sealed for another key"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealedError {
    /// The bytes do not start as a sealed record does: written by another codec (plain JSON
    /// from before encryption was turned on, say), or not a record at all.
    NotSealed,
    /// A sealed record of a format version this version of credkit-vault does not read
    /// (written by a newer one).
    UnsupportedVersion(u8),
    /// The header is damaged or the record is cut short.
    Damaged,
    /// Sealed with a data key the keyring does not hold.
    UnknownKey {
        /// The ID of the data key the record was sealed with.
        key_id: String,
    },
    /// The record does not authenticate: it was sealed for another record key (copied from
    /// another user's record) or altered after it was sealed.
    ForeignOrAltered,
}

impl SealedError {
    /// The refusal behind `err`, when a [`SealedCodec`](super::SealedCodec) made it: `err`'s
    /// [`source`](StdError::source) chain is searched (so it is found through a store's error
    /// that wraps the codec's too).
    pub fn of<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a Self> {
        credkit_core::find_source(err)
    }
}

impl fmt::Display for SealedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSealed => f.write_str("the stored bytes are not a sealed record"),
            Self::UnsupportedVersion(version) => {
                write!(f, "the record is sealed in format version {version}")
            }
            Self::Damaged => f.write_str("the sealed record is damaged or cut short"),
            Self::UnknownKey { key_id } => {
                write!(
                    f,
                    "the record is sealed with the data key {key_id}, not in the keyring"
                )
            }
            Self::ForeignOrAltered => {
                f.write_str("the record was sealed for another key, or altered after it was sealed")
            }
        }
    }
}

impl StdError for SealedError {}

/// The codec's error for `refusal`: permanent, of kind [`ErrorKind::Storage`], saying what to
/// do.
pub(super) fn refused(refusal: SealedError) -> Error {
    let message = match &refusal {
        SealedError::NotSealed => {
            "the credential record is not sealed (written without SealedCodec, or not a record); \
             store it again through SealedCodec, or remove it"
                .to_owned()
        }
        SealedError::UnsupportedVersion(version) => format!(
            "the credential record is sealed in format version {version}, which this version of \
             credkit-vault does not read; upgrade credkit-vault"
        ),
        SealedError::Damaged => {
            "the sealed credential record is damaged or cut short; remove it to start afresh"
                .to_owned()
        }
        SealedError::UnknownKey { key_id } => format!(
            "the credential record is sealed with the data key {key_id}, which is not in the \
             keyring; add the retired key with with_retired (or to the keyring's text, after the \
             current key)"
        ),
        SealedError::ForeignOrAltered => {
            "the credential record was sealed for another key (copied from another record) or \
             altered after it was sealed; it is not served, remove it to start afresh"
                .to_owned()
        }
    };
    Error::new(ErrorKind::Storage, message).with_source(refusal)
}

/// The cipher failed to seal: nothing a caller did (aws-lc-rs refuses only inputs of 64 GiB).
pub(super) fn seal_failed() -> Error {
    Error::new(
        ErrorKind::Storage,
        "sealing a credential record failed (the record is too large for AES-GCM)",
    )
}
