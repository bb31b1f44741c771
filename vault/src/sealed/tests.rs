//! Unit tests of the parts the public API does not reach directly: the header's parser, key ID
//! validation, the environment's value, and every message.

use std::error::Error as _;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;

use credkit_core::{Error, ErrorKind, RecordCodec};
use secrecy::ExposeSecret as _;

use super::format::{self, MAGIC, NONCE_LEN, TAG_LEN, VERSION};
use super::key::{self, MAX_KEY_ID_LEN, valid_key_id};
use super::keyring::from_value;
use super::*;

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

fn codec(id: &str) -> SealedCodec {
    SealedCodec::new(Keyring::new(DataKey::from_base64(id, KEY_A).unwrap()))
}

/// A record of `len` bytes of ciphertext after a header naming `id`.
fn sealed_shape(id: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.push(VERSION);
    bytes.push(u8::try_from(id.len()).unwrap());
    bytes.extend_from_slice(id);
    bytes.resize(bytes.len() + NONCE_LEN + len, 0);
    bytes
}

#[test]
fn key_ids_are_1_to_64_printable_ascii_without_separators() {
    assert!(valid_key_id("a"));
    assert!(valid_key_id("!~"));
    assert!(valid_key_id("2026-01_rotation.v2"));
    assert!(valid_key_id(&"x".repeat(MAX_KEY_ID_LEN)));
    assert!(!valid_key_id(""));
    assert!(!valid_key_id(&"x".repeat(MAX_KEY_ID_LEN + 1)));
    for bad in ["a b", "a:b", "a,b", "a\tb", "a\nb", "é", "a\u{7f}"] {
        assert!(!valid_key_id(bad), "{bad:?}");
    }
}

#[test]
fn an_invalid_key_id_is_described_not_repeated() {
    let empty = key::check_key_id("").unwrap_err();
    assert!(empty.is_invalid_value());
    assert!(
        empty.to_string().starts_with("a data key ID is empty;"),
        "{empty}"
    );
    let long = key::check_key_id(&"s".repeat(65)).unwrap_err();
    assert!(
        long.to_string()
            .starts_with("a data key ID is 65 bytes long;"),
        "{long}"
    );
    assert!(!long.to_string().contains("sssss"));
    let odd = key::check_key_id("secret key").unwrap_err();
    assert!(odd.to_string().contains("holds a space"), "{odd}");
    assert!(!odd.to_string().contains("secret key"));
    assert!(
        odd.to_string()
            .contains("1 to 64 printable ASCII characters")
    );
    assert!(key::check_key_id(&"x".repeat(64)).is_ok());
    // 64 bytes is not too long: a bad 64-byte ID is bad for its characters.
    let spaced = key::check_key_id(&format!("{} x", "x".repeat(62))).unwrap_err();
    assert!(spaced.to_string().contains("holds a space"), "{spaced}");
}

#[test]
fn base64_is_read_in_both_alphabets_padded_or_not() {
    let bytes: Vec<u8> = (0..32).map(|i| i * 8 + 3).collect();
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        use base64::Engine as _;
        let text = format!(" {}\n", engine.encode(&bytes));
        assert_eq!(
            &key::decode_base64(&text).unwrap()[..],
            &bytes[..],
            "{text}"
        );
    }
    assert!(key::decode_base64("not base64!").is_none());
    assert!(key::decode_base64("a+b_").is_none()); // Both alphabets mixed.
    assert_eq!(&key::decode_base64("").unwrap()[..], b"");
}

#[test]
fn the_header_is_magic_version_length_and_id() {
    assert_eq!(format::header("k1"), b"CKV\x01\x02k1");
    assert_eq!(
        format::associated_data(b"CKV\x01\x02k1", "user"),
        b"CKV\x01\x02k1user"
    );
    let stored = codec("k1").encode("user", b"{}").unwrap();
    assert!(stored.starts_with(b"CKV\x01\x02k1"));
    assert_eq!(stored.len(), 5 + 2 + NONCE_LEN + 2 + TAG_LEN);
}

#[test]
fn the_parser_takes_a_record_apart() {
    let id = "x".repeat(64);
    let bytes = sealed_shape(id.as_bytes(), TAG_LEN + 3);
    let parts = format::parse(&bytes).unwrap();
    assert_eq!(parts.key_id, id);
    assert_eq!(parts.header, &bytes[..5 + 64]);
    assert_eq!(parts.nonce.len(), NONCE_LEN);
    assert_eq!(parts.sealed.len(), TAG_LEN + 3);
    // An empty plaintext: the tag alone.
    let bytes = sealed_shape(b"k", TAG_LEN);
    assert_eq!(format::parse(&bytes).unwrap().sealed.len(), TAG_LEN);
}

#[test]
fn the_parser_refuses_what_is_not_a_record_it_reads() {
    use SealedError::{Damaged, NotSealed, UnsupportedVersion};
    let parse = |bytes: &[u8]| format::parse(bytes).map(|parts| parts.key_id.to_owned());
    assert_eq!(parse(b""), Err(NotSealed));
    assert_eq!(parse(b"CK"), Err(NotSealed));
    assert_eq!(parse(br#"{"version":1}"#), Err(NotSealed));
    assert_eq!(parse(b"CKV"), Err(Damaged));
    assert_eq!(parse(b"CKV\x02\x01k"), Err(UnsupportedVersion(2)));
    assert_eq!(parse(b"CKV\x00"), Err(UnsupportedVersion(0)));
    assert_eq!(parse(b"CKV\x01"), Err(Damaged));
    // One byte short of a tag.
    assert_eq!(parse(&sealed_shape(b"k", TAG_LEN - 1)), Err(Damaged));
    // An ID of 65 bytes, of none, or not printable ASCII.
    assert_eq!(parse(&sealed_shape(&[b'x'; 65], TAG_LEN)), Err(Damaged));
    assert_eq!(parse(&sealed_shape(b"", TAG_LEN)), Err(Damaged));
    assert_eq!(parse(&sealed_shape(b"a b", TAG_LEN)), Err(Damaged));
    assert_eq!(parse(&sealed_shape(b"\xff", TAG_LEN)), Err(Damaged));
    // A length byte past the end.
    assert_eq!(parse(b"CKV\x01\x40abc"), Err(Damaged));
    assert_eq!(parse(&sealed_shape(b"k", TAG_LEN)), Ok("k".to_owned()));
}

#[test]
fn every_refusal_displays_and_says_what_to_do() {
    let cases = [
        (
            SealedError::NotSealed,
            "the stored bytes are not a sealed record",
            "the credential record is not sealed (written without SealedCodec, or not a record); store it again through SealedCodec, or remove it",
        ),
        (
            SealedError::UnsupportedVersion(7),
            "the record is sealed in format version 7",
            "the credential record is sealed in format version 7, which this version of credkit-vault does not read; upgrade credkit-vault",
        ),
        (
            SealedError::Damaged,
            "the sealed record is damaged or cut short",
            "the sealed credential record is damaged or cut short; remove it to start afresh",
        ),
        (
            SealedError::UnknownKey {
                key_id: "old".to_owned(),
            },
            "the record is sealed with the data key old, not in the keyring",
            "the credential record is sealed with the data key old, which is not in the keyring; add the retired key with with_retired (or to the keyring's text, after the current key)",
        ),
        (
            SealedError::ForeignOrAltered,
            "the record was sealed for another key, or altered after it was sealed",
            "the credential record was sealed for another key (copied from another record) or altered after it was sealed; it is not served, remove it to start afresh",
        ),
    ];
    for (refusal, display, message) in cases {
        assert_eq!(refusal.to_string(), display);
        let err = error::refused(refusal.clone());
        assert_eq!(err.to_string(), message);
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.is_transient());
        assert_eq!(SealedError::of(&err), Some(&refusal));
        assert_eq!(err.source().unwrap().to_string(), display);
    }
    let sealing = error::seal_failed();
    assert_eq!(sealing.kind(), ErrorKind::Storage);
    assert!(
        sealing
            .to_string()
            .starts_with("sealing a credential record failed")
    );
}

#[test]
fn a_refusal_is_found_through_a_wrapping_error() {
    let inner = error::refused(SealedError::Damaged);
    let outer = Error::new(ErrorKind::Storage, "the record is not readable").with_source(inner);
    assert_eq!(SealedError::of(&outer), Some(&SealedError::Damaged));
    let other = Error::new(ErrorKind::Storage, "no").with_source(std::fmt::Error);
    assert_eq!(SealedError::of(&other), None);
    assert_eq!(SealedError::of(&Error::new(ErrorKind::Storage, "no")), None);
}

#[test]
fn the_environment_value_is_read_or_its_absence_explained() {
    let unset = from_value("VAULT_KEYS", None).unwrap_err();
    assert!(unset.is_loading());
    assert_eq!(
        unset.to_string(),
        "the environment variable VAULT_KEYS is not set; set it to the vault's data keys, \
         ID:BASE64[,ID:BASE64...], the current key first"
    );
    let not_utf8 =
        from_value("VAULT_KEYS", Some(OsString::from_vec(b"k:\xff".to_vec()))).unwrap_err();
    assert!(not_utf8.is_loading());
    assert!(
        not_utf8
            .to_string()
            .starts_with("the environment variable VAULT_KEYS is not UTF-8;")
    );
    let value = format!("new:{KEY_B}, old:{KEY_A}");
    let keyring = from_value("VAULT_KEYS", Some(value.into())).unwrap();
    assert_eq!(keyring.current_key_id(), "new");
    let bad = from_value(
        "VAULT_KEYS",
        Some(format!("new:{KEY_B},new:{KEY_A}").into()),
    )
    .unwrap_err();
    assert!(bad.is_parsing());
    assert_eq!(
        bad.to_string(),
        "entry 2 of the environment variable VAULT_KEYS: the data key ID new is given twice; \
         give each data key its own ID"
    );
}

#[test]
fn parse_errors_name_the_entry_and_never_a_key() {
    let cases = [
        (
            "",
            "the keyring text holds no data key; write ID:BASE64[,ID:BASE64...], the current key first",
        ),
        (
            " \n",
            "the keyring text holds no data key; write ID:BASE64[,ID:BASE64...], the current key first",
        ),
        (
            KEY_A,
            "entry 1 of the keyring text has no ':' between a key ID and a key; write ID:BASE64[,ID:BASE64...], the current key first",
        ),
        (
            "k1:c2VjcmV0",
            "entry 1 of the keyring text: a data key must be 32 bytes long (AES-256), this one is 6; openssl rand -base64 32 makes one",
        ),
        (
            "k1:s3cr3t!",
            "entry 1 of the keyring text: a data key is not base64; give its 32 bytes in base64 (openssl rand -base64 32 makes one)",
        ),
    ];
    for (text, message) in cases {
        let err = Keyring::parse(text).unwrap_err();
        assert!(err.is_parsing(), "{text}");
        assert_eq!(err.to_string(), message);
    }
    let trailing = Keyring::parse(&format!("k1:{KEY_A},")).unwrap_err();
    assert!(
        trailing
            .to_string()
            .starts_with("entry 2 of the keyring text has no ':'")
    );
    let bad_id = Keyring::parse(&format!("k1:{KEY_A},{KEY_B}x y:{KEY_A}")).unwrap_err();
    assert!(
        bad_id
            .to_string()
            .starts_with("entry 2 of the keyring text: a data key ID holds a space")
    );
    assert!(!bad_id.to_string().contains(KEY_B), "{bad_id}");
    assert!(bad_id.source().is_some());
    let duplicate = Keyring::parse(&format!("k1:{KEY_A},k2:{KEY_B},k2:{KEY_A}")).unwrap_err();
    assert!(
        duplicate
            .to_string()
            .starts_with("entry 3 of the keyring text: the data key ID k2 is given twice")
    );
}

#[test]
fn parse_trims_white_space_around_entries_and_parts() {
    let keyring = Keyring::parse(&format!(" new : {KEY_B} ,\n old:{KEY_A}\n")).unwrap();
    assert_eq!(keyring.current_key_id(), "new");
    assert_eq!(keyring.retired_key_ids().collect::<Vec<_>>(), ["old"]);
    let one = Keyring::parse(&format!("only:{KEY_A}")).unwrap();
    assert_eq!(one.retired_key_ids().count(), 0);
}

#[test]
fn keys_from_text_are_the_keys_given() {
    let parsed = SealedCodec::new(Keyring::parse(&format!("k:{KEY_A}")).unwrap());
    let stored = parsed.encode("u", b"{}").unwrap();
    assert_eq!(&codec("k").decode("u", &stored).unwrap()[..], b"{}");
    assert_eq!(
        DataKey::from_base64("k", KEY_A)
            .unwrap()
            .to_base64()
            .expose_secret(),
        KEY_A
    );
    let bytes: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let from_array = SealedCodec::new(Keyring::new(DataKey::new("k", bytes).unwrap()));
    assert_eq!(&from_array.decode("u", &stored).unwrap()[..], b"{}");
}

#[test]
fn the_keyring_finds_keys_by_id() {
    let keyring = Keyring::new(DataKey::from_base64("a", KEY_A).unwrap())
        .with_retired(DataKey::from_base64("b", KEY_B).unwrap())
        .unwrap()
        .with_retired(DataKey::generate("c").unwrap())
        .unwrap();
    assert_eq!(keyring.current().id(), "a");
    assert_eq!(keyring.find("a").map(DataKey::id), Some("a"));
    assert_eq!(keyring.find("b").map(DataKey::id), Some("b"));
    assert_eq!(keyring.find("c").map(DataKey::id), Some("c"));
    assert!(keyring.find("d").is_none());
    let again = keyring
        .clone()
        .with_retired(DataKey::generate("a").unwrap());
    assert!(again.unwrap_err().is_invalid_value());
    let again = keyring.with_retired(DataKey::generate("c").unwrap());
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("the data key ID c is given twice")
    );
}

#[test]
fn data_keys_are_checked() {
    assert!(DataKey::new("", [0; 32]).unwrap_err().is_invalid_value());
    assert!(DataKey::generate("a b").is_err());
    assert!(DataKey::from_base64("a:b", KEY_A).is_err());
    let short = DataKey::from_slice("k", &[1; 31]).unwrap_err();
    assert_eq!(
        short.to_string(),
        "a data key must be 32 bytes long (AES-256), this one is 31; openssl rand -base64 32 makes one"
    );
    assert!(DataKey::from_slice("k", &[1; 33]).is_err());
    assert!(DataKey::from_slice("", &[1; 32]).is_err());
    assert_eq!(DataKey::from_slice("k", &[1; 32]).unwrap().id(), "k");
    // Swapped arguments: the key is a valid ID, and is not repeated.
    let swapped = DataKey::from_base64(KEY_A, "k1").unwrap_err();
    assert!(!swapped.to_string().contains(KEY_A), "{swapped}");
    let swapped = Keyring::parse(&format!("{KEY_A}:k1")).unwrap_err();
    assert!(!swapped.to_string().contains(KEY_A), "{swapped}");
}

#[test]
fn generated_keys_differ() {
    let one = DataKey::generate("k").unwrap();
    let two = DataKey::generate("k").unwrap();
    assert_ne!(
        one.to_base64().expose_secret(),
        two.to_base64().expose_secret()
    );
    assert_eq!(one.to_base64().expose_secret().len(), 44);
}

#[test]
fn wrapped_keys_are_checked() {
    assert!(WrappedKey::new("", vec![1]).unwrap_err().is_invalid_value());
    assert!(WrappedKey::from_base64("a b", "AAAA").is_err());
    let bad = WrappedKey::from_base64("w", "!!").unwrap_err();
    assert_eq!(
        bad.to_string(),
        "a wrapped data key is not base64; give the KMS's ciphertext in base64"
    );
    let key = WrappedKey::from_base64("w", "AQID").unwrap();
    assert_eq!(key.wrapped(), [1, 2, 3]);
    assert_eq!(key.id(), "w");
}

#[test]
fn stale_is_anything_but_the_current_key() {
    let old = DataKey::generate("old").unwrap();
    let new = DataKey::generate("new").unwrap();
    let before = SealedCodec::new(Keyring::new(old.clone()));
    let after = SealedCodec::new(Keyring::new(new).with_retired(old).unwrap());
    let sealed_before = before.encode("u", b"{}").unwrap();
    let sealed_after = after.encode("u", b"{}").unwrap();
    assert!(!before.is_stale(&sealed_before));
    assert!(after.is_stale(&sealed_before));
    assert!(!after.is_stale(&sealed_after));
    assert!(before.is_stale(&sealed_after));
    assert!(after.is_stale(b"{}"));
    assert_eq!(SealedCodec::key_id_of(&sealed_after), Some("new"));
    assert_eq!(after.keyring().current_key_id(), "new");
}
