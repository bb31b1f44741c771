//! The sealed record's bytes: a header (magic, format version, key ID), the nonce, and the
//! ciphertext with its tag. The layout is documented in the module docs (`mod.rs`, "Format").

use super::error::SealedError;
use super::key::{MAX_KEY_ID_LEN, valid_key_id};

/// The first bytes of every sealed record: "credkit vault".
pub(super) const MAGIC: &[u8; 3] = b"CKV";
/// The one format version written and read.
pub(super) const VERSION: u8 = 1;
/// AES-GCM's nonce: 96 bits.
pub(super) const NONCE_LEN: usize = 12;
/// AES-GCM's tag: 128 bits.
pub(super) const TAG_LEN: usize = 16;
/// Magic, version and the key ID's length byte.
const FIXED_HEADER_LEN: usize = MAGIC.len() + 1 + 1;

/// A sealed record taken apart (nothing checked but its layout).
#[derive(Debug)]
pub(super) struct Parts<'a> {
    /// Magic, version, key ID length and key ID: the part of the associated data that is stored.
    pub(super) header: &'a [u8],
    /// The ID of the data key the record was sealed with (valid, see [`valid_key_id`]).
    pub(super) key_id: &'a str,
    /// The nonce (12 bytes).
    pub(super) nonce: &'a [u8],
    /// The ciphertext followed by the tag (at least the tag).
    pub(super) sealed: &'a [u8],
}

/// The header of a record sealed with the data key `key_id` (an ID already validated).
pub(super) fn header(key_id: &str) -> Vec<u8> {
    let mut header = Vec::with_capacity(FIXED_HEADER_LEN + key_id.len());
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    // A valid key ID is at most 64 bytes: it fits the length byte.
    header.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    header.extend_from_slice(key_id.as_bytes());
    header
}

/// The associated data of a record under `record_key` with this `header`: the header then the
/// record's key. The header is self-delimiting (its key ID is length-prefixed), so no two
/// (header, record key) pairs give the same bytes.
pub(super) fn associated_data(header: &[u8], record_key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + record_key.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(record_key.as_bytes());
    aad
}

/// Takes `stored` apart, or says why it is not a sealed record this version reads.
pub(super) fn parse(stored: &[u8]) -> Result<Parts<'_>, SealedError> {
    if !stored.starts_with(MAGIC) {
        return Err(SealedError::NotSealed);
    }
    let Some(&version) = stored.get(MAGIC.len()) else {
        return Err(SealedError::Damaged);
    };
    if version != VERSION {
        return Err(SealedError::UnsupportedVersion(version));
    }
    let Some(&id_len) = stored.get(MAGIC.len() + 1) else {
        return Err(SealedError::Damaged);
    };
    let id_len = usize::from(id_len);
    if id_len > MAX_KEY_ID_LEN {
        return Err(SealedError::Damaged);
    }
    let header_len = FIXED_HEADER_LEN + id_len;
    if stored.len() < header_len + NONCE_LEN + TAG_LEN {
        return Err(SealedError::Damaged);
    }
    let (header, rest) = stored.split_at(header_len);
    let key_id = std::str::from_utf8(&header[FIXED_HEADER_LEN..])
        .ok()
        .filter(|id| valid_key_id(id))
        .ok_or(SealedError::Damaged)?;
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    Ok(Parts {
        header,
        key_id,
        nonce,
        sealed,
    })
}
