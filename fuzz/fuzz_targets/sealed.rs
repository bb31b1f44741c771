//! credkit-vault's sealed codec: the keyring's text (`Keyring::parse`, what `CREDKIT_VAULT_KEYS`
//! holds), `decode` of arbitrary bytes, and sealed records edited byte by byte (`arbitrary`).
//! Never a panic; a keyring's errors and `Debug` never quote a key; arbitrary bytes never open
//! and are refused with a typed, permanent error that quotes nothing but a key ID; an edited
//! record never opens, an unedited one opens to its JSON and only under its own record key.
#![no_main]

use arbitrary::Arbitrary;
use credkit_core::{ErrorKind, RecordCodec};
use credkit_fuzz::{assert_clean, assert_error_clean};
use credkit_vault::{DataKey, Keyring, SealedCodec, SealedError};
use libfuzzer_sys::fuzz_target;

/// A part of a keyring's entry: any text, or the base64 of planted bytes (10 to 49 of them,
/// starting with `planted`), a secret no message may quote.
#[derive(Arbitrary, Debug)]
enum Part {
    Raw(String),
    Planted { len: u8, url_safe: bool, pad: bool },
}

impl Part {
    /// The part's text, and the secret it plants; `index` makes each planted text its own (so
    /// that no planted text is the start of another).
    fn text(&self, index: usize) -> (String, Option<String>) {
        match self {
            Self::Raw(text) => (text.clone(), None),
            Self::Planted { len, url_safe, pad } => {
                use base64::Engine as _;
                use base64::engine::general_purpose::{
                    STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
                };
                let mut bytes = format!("planted{index:03}").into_bytes();
                bytes.resize(10 + usize::from(*len % 40), b'!');
                let engine = match (url_safe, pad) {
                    (false, true) => STANDARD,
                    (false, false) => STANDARD_NO_PAD,
                    (true, true) => URL_SAFE,
                    (true, false) => URL_SAFE_NO_PAD,
                };
                let text = engine.encode(&bytes);
                (text.clone(), Some(text))
            }
        }
    }
}

/// One `ID:KEY` entry, its separators and white space chosen too.
#[derive(Arbitrary, Debug)]
struct Entry {
    id: Part,
    key: Part,
    colon: bool,
    space: bool,
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// A keyring's text, built of entries.
    Entries(Vec<Entry>),
    /// A keyring's text, any text.
    Keyring(String),
    /// Stored bytes that were never sealed here, opened under `key`.
    Decode { key: String, stored: Vec<u8> },
    /// A record sealed under `key`, then edited: `(position, xor)` pairs.
    Edit {
        key: String,
        other_key: String,
        json: Vec<u8>,
        edits: Vec<(u16, u8)>,
        retired: bool,
    },
}

/// Parses `text`; a keyring read seals and opens, and its `Debug` shows its IDs alone; an error
/// is one clean line, quoting none of `key_secrets`, nor `id_secrets` unless an ID is given
/// twice (then the ID was an ID and the key a valid one).
fn parse(text: &str, key_secrets: &[String], id_secrets: &[String]) {
    match Keyring::parse(text) {
        Ok(keyring) => {
            let ids: Vec<&str> = std::iter::once(keyring.current_key_id())
                .chain(keyring.retired_key_ids())
                .collect();
            assert_eq!(
                format!("{keyring:?}"),
                format!(
                    "Keyring {{ current: {:?}, retired: {:?} }}",
                    ids[0],
                    &ids[1..]
                )
            );
            let codec = SealedCodec::new(keyring);
            let stored = codec.encode("user", b"{}").unwrap();
            assert_eq!(&codec.decode("user", &stored).unwrap()[..], b"{}");
            assert!(!codec.is_stale(&stored));
        }
        Err(err) => {
            let err = credkit_core::Error::from(err);
            let twice = err.to_string().contains("is given twice");
            let secrets: Vec<&str> = key_secrets
                .iter()
                .filter(|secret| !twice || !id_secrets.contains(secret))
                .chain(id_secrets.iter().filter(|_| !twice))
                .map(String::as_str)
                .collect();
            assert_error_clean(&err, &secrets);
        }
    }
}

/// A fixed 32-byte key under `id`.
fn data_key(id: &str, byte: u8) -> DataKey {
    DataKey::from_slice(id, &[byte; 32]).unwrap()
}

fn codec() -> SealedCodec {
    SealedCodec::new(
        Keyring::new(data_key("current", 1))
            .with_retired(data_key("retired", 2))
            .unwrap(),
    )
}

fuzz_target!(|input: Input| match input {
    Input::Entries(entries) => {
        let mut text = String::new();
        let (mut key_secrets, mut id_secrets) = (Vec::new(), Vec::new());
        for (index, entry) in entries.iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            let (id, id_secret) = entry.id.text(2 * index);
            let (key, key_secret) = entry.key.text(2 * index + 1);
            let space = if entry.space { " " } else { "" };
            let colon = if entry.colon { ":" } else { "" };
            text.push_str(&format!("{space}{id}{space}{colon}{space}{key}{space}"));
            id_secrets.extend(id_secret);
            key_secrets.extend(key_secret);
        }
        parse(&text, &key_secrets, &id_secrets);
    }
    Input::Keyring(text) => parse(&text, &[], &[]),
    Input::Decode { key, stored } => {
        let codec = codec();
        let err = codec.decode(&key, &stored).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.is_transient());
        let refusal = SealedError::of(&err).expect("a typed refusal");
        assert_error_clean(&err, &[]);
        assert_clean("Debug", &format!("{err:?}"), &[]);
        // The only part of the input a message may quote is a (valid) key ID.
        if let SealedError::UnknownKey { key_id } = refusal {
            assert!((1..=64).contains(&key_id.len()));
            assert!(key_id.bytes().all(|b| b.is_ascii_graphic()));
            assert_eq!(SealedCodec::key_id_of(&stored), Some(key_id.as_str()));
        }
        assert_eq!(
            codec.is_stale(&stored),
            SealedCodec::key_id_of(&stored) != Some("current")
        );
    }
    Input::Edit {
        key,
        other_key,
        json,
        edits,
        retired,
    } => {
        let codec = codec();
        let stored = if retired {
            SealedCodec::new(Keyring::new(data_key("retired", 2)))
                .encode(&key, &json)
                .unwrap()
        } else {
            codec.encode(&key, &json).unwrap()
        };
        assert_eq!(codec.is_stale(&stored), retired);
        let mut edited = stored.clone();
        for (position, xor) in edits {
            let position = usize::from(position) % edited.len();
            edited[position] ^= xor;
        }
        match codec.decode(&key, &edited) {
            Ok(opened) => {
                assert_eq!(edited, stored, "an edited record opened");
                assert_eq!(&opened[..], &json[..]);
            }
            Err(err) => {
                assert_ne!(edited, stored, "an unedited record failed to open: {err}");
                assert!(SealedError::of(&err).is_some());
            }
        }
        if other_key != key {
            let err = codec.decode(&other_key, &stored).unwrap_err();
            assert_eq!(SealedError::of(&err), Some(&SealedError::ForeignOrAltered));
        }
    }
});
