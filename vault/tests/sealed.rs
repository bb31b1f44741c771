//! `SealedCodec` from the outside: round trips, tampering and misplaced records refused with typed
//! errors, key rotation, fresh nonces, keys that never show, and keys unwrapped by a (toy) KMS.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use credkit_core::{AccessToken, CredentialRecord, Error, ErrorKind, RecordCodec, Result};
use credkit_testing::block_on;
use credkit_vault::{DataKey, KeyUnwrapper, Keyring, SealedCodec, SealedError, WrappedKey};
use proptest::prelude::*;
use secrecy::{ExposeSecret as _, SecretString};
use time::macros::datetime;

const ACCESS_TOKEN: &str = "ya29.a0AfB_byC-planted-access-token-ZXhhbXBsZS1hY2Nlc3MtdG9rZW4tdGhhdC1pcy1sb25nLWVub3VnaC10by1sb29rLXJlYWwtYW5kLXNvLW9u";
const REFRESH_TOKEN: &str =
    "1//0gplanted-refresh-token-Q0FCQUJBQkFCQUJBQkFCQUJBQkFCQUJBQkFCQUJBQkFCQUJBQkFC";

/// A record as the vault keeps one: an access token with its expiry and scopes, a refresh
/// token, the OAuth client: about 600 bytes of JSON.
fn typical_record() -> Vec<u8> {
    let token = AccessToken::new(ACCESS_TOKEN)
        .with_issued_at(datetime!(2026-12-07 08:00 UTC))
        .with_expiry(datetime!(2026-12-07 09:00 UTC))
        .with_granted_scopes([
            "openid",
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/cloud-platform",
        ]);
    let mut provider = serde_json::Map::new();
    provider.insert(
        "client_id".into(),
        "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com".into(),
    );
    provider.insert("account".into(), "alice@example.com".into());
    provider.insert("universe_domain".into(), "googleapis.com".into());
    let record = CredentialRecord::new()
        .with_access_token(&token)
        .with_refresh_token(SecretString::from(REFRESH_TOKEN))
        .with_provider_fields(provider);
    record.to_json().unwrap().to_vec()
}

fn key(id: &str) -> DataKey {
    DataKey::generate(id).unwrap()
}

fn codec(current: &DataKey) -> SealedCodec {
    SealedCodec::new(Keyring::new(current.clone()))
}

fn refusal(err: &Error) -> SealedError {
    SealedError::of(err).cloned().unwrap()
}

/// Where the nonce is in a record sealed with the key ID `id`.
fn nonce_of<'a>(stored: &'a [u8], id: &str) -> &'a [u8] {
    &stored[5 + id.len()..5 + id.len() + 12]
}

#[test]
fn a_typical_record_round_trips_and_is_not_readable_at_rest() {
    let json = typical_record();
    assert!((500..700).contains(&json.len()), "{}", json.len());
    let codec = codec(&key("2026-12"));
    let stored = codec.encode("user:alice", &json).unwrap();
    assert_eq!(stored.len(), json.len() + 33 + "2026-12".len());
    assert_eq!(&codec.decode("user:alice", &stored).unwrap()[..], &json[..]);
    let text = String::from_utf8_lossy(&stored);
    for secret in ["planted", "ya29", "1//", "alice", "client_id"] {
        assert!(!text.contains(secret), "{secret} shows at rest");
    }
    let record =
        CredentialRecord::from_json(&codec.decode("user:alice", &stored).unwrap()).unwrap();
    assert_eq!(
        record
            .refresh_token()
            .map(secrecy::ExposeSecret::expose_secret),
        Some(REFRESH_TOKEN)
    );
}

#[test]
fn records_of_every_size_round_trip() {
    let codec = codec(&key("k"));
    for len in [0_usize, 1, 15, 16, 17, 600, 65_536] {
        let json: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let stored = codec.encode("u", &json).unwrap();
        assert_eq!(&codec.decode("u", &stored).unwrap()[..], &json[..], "{len}");
    }
}

#[test]
fn every_bit_flip_fails_to_open() {
    let codec = codec(&key("2026-12"));
    let stored = codec.encode("user:alice", &typical_record()).unwrap();
    for byte in 0..stored.len() {
        for bit in 0..8 {
            let mut altered = stored.clone();
            altered[byte] ^= 1 << bit;
            let err = codec.decode("user:alice", &altered).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Storage);
            assert!(!err.is_transient());
            // Past the header every flip is caught by the tag.
            if byte >= 5 + "2026-12".len() {
                assert_eq!(refusal(&err), SealedError::ForeignOrAltered, "byte {byte}");
            }
        }
    }
}

#[test]
fn a_cut_or_extended_record_fails_to_open() {
    let codec = codec(&key("k"));
    let stored = codec.encode("u", b"{\"version\":1}").unwrap();
    for len in 0..stored.len() {
        assert!(codec.decode("u", &stored[..len]).is_err(), "{len}");
    }
    let mut longer = stored.clone();
    longer.push(0);
    assert_eq!(
        refusal(&codec.decode("u", &longer).unwrap_err()),
        SealedError::ForeignOrAltered
    );
}

#[test]
fn a_record_under_another_key_fails_to_open() {
    let codec = codec(&key("k"));
    let stored = codec.encode("user:1", &typical_record()).unwrap();
    for other in [
        "user:2", "user:10", "user:", "", "USER:1", "user:1 ", "kuser:1",
    ] {
        let err = codec.decode(other, &stored).unwrap_err();
        assert_eq!(refusal(&err), SealedError::ForeignOrAltered, "{other:?}");
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.is_transient());
        assert!(
            err.to_string()
                .starts_with("the credential record was sealed for another key"),
            "{err}"
        );
    }
    assert!(codec.decode("user:1", &stored).is_ok());
}

#[test]
fn another_key_under_the_same_id_fails_to_open() {
    let stored = codec(&key("k")).encode("u", b"{}").unwrap();
    let err = codec(&key("k")).decode("u", &stored).unwrap_err();
    assert_eq!(refusal(&err), SealedError::ForeignOrAltered);
}

#[test]
fn a_retired_key_opens_and_its_records_are_stale() {
    let old = key("2026-11");
    let stored = codec(&old).encode("u", b"{\"a\":1}").unwrap();
    let rotated = SealedCodec::new(Keyring::new(key("2026-12")).with_retired(old).unwrap());
    assert_eq!(&rotated.decode("u", &stored).unwrap()[..], b"{\"a\":1}");
    assert!(rotated.is_stale(&stored));
    // Stored again, it is sealed with the current key.
    let again = rotated
        .encode("u", &rotated.decode("u", &stored).unwrap())
        .unwrap();
    assert!(!rotated.is_stale(&again));
    assert_eq!(SealedCodec::key_id_of(&again), Some("2026-12"));
    assert_eq!(SealedCodec::key_id_of(&stored), Some("2026-11"));
}

#[test]
fn a_key_not_in_the_ring_is_named() {
    let stored = codec(&key("2026-11")).encode("u", b"{}").unwrap();
    let current = codec(&key("2026-12"));
    let err = current.decode("u", &stored).unwrap_err();
    assert_eq!(
        refusal(&err),
        SealedError::UnknownKey {
            key_id: "2026-11".to_owned()
        }
    );
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        "the credential record is sealed with the data key 2026-11, which is not in the keyring; \
         add the retired key with with_retired (or to the keyring's text, after the current key)"
    );
    assert!(current.is_stale(&stored));
}

#[test]
fn what_is_not_a_sealed_record_is_refused_by_kind() {
    let codec = codec(&key("k"));
    let plain = typical_record();
    let err = codec.decode("u", &plain).unwrap_err();
    assert_eq!(refusal(&err), SealedError::NotSealed);
    assert!(!err.to_string().contains("planted"));
    assert!(codec.is_stale(&plain));
    let mut newer = codec.encode("u", b"{}").unwrap();
    newer[3] = 2;
    let err = codec.decode("u", &newer).unwrap_err();
    assert_eq!(refusal(&err), SealedError::UnsupportedVersion(2));
    assert!(err.to_string().ends_with("upgrade credkit-vault"));
    assert_eq!(
        refusal(&codec.decode("u", b"CKV\x01").unwrap_err()),
        SealedError::Damaged
    );
}

#[test]
fn nonces_differ_for_the_same_record() {
    let codec = codec(&key("k"));
    let json = typical_record();
    let mut nonces = HashSet::new();
    let mut records = HashSet::new();
    for _ in 0..2000 {
        let stored = codec.encode("u", &json).unwrap();
        assert!(
            nonces.insert(nonce_of(&stored, "k").to_vec()),
            "a nonce came twice"
        );
        assert!(records.insert(stored));
    }
}

#[test]
fn clones_share_the_keys() {
    let codec = codec(&key("k"));
    let stored = codec.clone().encode("u", b"{}").unwrap();
    assert_eq!(&codec.decode("u", &stored).unwrap()[..], b"{}");
    let keyring = codec.keyring().clone();
    assert_eq!(
        &SealedCodec::new(keyring).decode("u", &stored).unwrap()[..],
        b"{}"
    );
}

#[test]
fn no_key_bytes_in_debug_or_errors() {
    let current = key("current");
    let retired = key("retired");
    let texts = [
        current.to_base64().expose_secret().to_owned(),
        retired.to_base64().expose_secret().to_owned(),
    ];
    let keyring = Keyring::new(current.clone())
        .with_retired(retired.clone())
        .unwrap();
    let codec = SealedCodec::new(keyring.clone());
    let shown = [
        format!("{current:?}"),
        format!("{retired:?} {retired:#?}"),
        format!("{keyring:?} {keyring:#?}"),
        format!("{codec:?} {codec:#?}"),
    ];
    assert_eq!(shown[0], r#"DataKey { id: "current", .. }"#);
    assert_eq!(
        format!("{codec:?}"),
        r#"SealedCodec { keyring: Keyring { current: "current", retired: ["retired"] }, accept_plain: false }"#
    );
    let stored = codec.encode("u", &typical_record()).unwrap();
    let mut errors = vec![
        codec.decode("v", &stored).unwrap_err(),
        SealedCodec::new(Keyring::new(key("other")))
            .decode("u", &stored)
            .unwrap_err(),
    ];
    for text in &texts {
        errors.push(
            Keyring::parse(&format!("k:{}", &text[..40]))
                .unwrap_err()
                .into(),
        );
        errors.push(Keyring::parse(&format!("{text}:k")).unwrap_err().into());
        errors.push(Keyring::parse(&format!("k:{text}!")).unwrap_err().into());
        errors.push(
            Keyring::parse(&format!("k:{text},k:{text}"))
                .unwrap_err()
                .into(),
        );
        errors.push(DataKey::from_base64(text, "k").unwrap_err().into());
    }
    let rendered: Vec<String> = errors
        .iter()
        .map(|err| format!("{err} {err:?}"))
        .chain(shown)
        .collect();
    for text in &rendered {
        for secret in &texts {
            assert!(!text.contains(secret.as_str()), "a key shows in {text}");
            assert!(
                !text.contains(&secret[..12]),
                "a key's start shows in {text}"
            );
        }
        assert!(!text.contains("planted"), "a token shows in {text}");
    }
}

#[test]
fn from_env_names_an_unset_variable() {
    assert_eq!(Keyring::VARIABLE, "CREDKIT_VAULT_KEYS");
    let err = Keyring::from_env("CREDKIT_VAULT_KEYS_NEVER_SET_IN_THESE_TESTS").unwrap_err();
    assert!(err.is_loading());
    assert!(
        err.to_string().starts_with(
            "the environment variable CREDKIT_VAULT_KEYS_NEVER_SET_IN_THESE_TESTS is not set"
        ),
        "{err}"
    );
}

proptest! {
    #[test]
    fn any_record_under_any_key_round_trips(
        record_key in any::<String>(),
        other_key in any::<String>(),
        json in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let codec = codec(&DataKey::from_slice("k", &[9; 32]).unwrap());
        let stored = codec.encode(&record_key, &json).unwrap();
        prop_assert_eq!(&codec.decode(&record_key, &stored).unwrap()[..], &json[..]);
        prop_assert_eq!(stored.len(), json.len() + 34);
        if other_key != record_key {
            prop_assert_eq!(
                refusal(&codec.decode(&other_key, &stored).unwrap_err()),
                SealedError::ForeignOrAltered
            );
        }
    }

    #[test]
    fn decoding_any_bytes_is_a_typed_refusal(stored in proptest::collection::vec(any::<u8>(), 0..256)) {
        let codec = codec(&DataKey::from_slice("k", &[9; 32]).unwrap());
        let err = codec.decode("u", &stored).unwrap_err();
        prop_assert!(SealedError::of(&err).is_some());
        prop_assert_eq!(err.kind(), ErrorKind::Storage);
    }
}

/// A toy KMS: "wraps" by XOR with a pad, counts its calls, fails on request.
#[derive(Debug, Default)]
struct ToyKms {
    calls: AtomicUsize,
    fail: Mutex<Option<Error>>,
    rename: Option<String>,
}

const PAD: u8 = 0xa5;

fn wrap(key: &DataKey) -> WrappedKey {
    let bytes = key.to_base64();
    let plain = base64_decode(bytes.expose_secret());
    WrappedKey::new(key.id(), plain.iter().map(|b| b ^ PAD).collect::<Vec<u8>>()).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[async_trait::async_trait]
impl KeyUnwrapper for ToyKms {
    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(err) = self.fail.lock().unwrap().clone() {
            return Err(err);
        }
        let plain: Vec<u8> = wrapped.iter().map(|b| b ^ PAD).collect();
        Ok(DataKey::from_slice(
            self.rename.as_deref().unwrap_or(key_id),
            &plain,
        )?)
    }
}

#[test]
fn wrapped_keys_are_unwrapped_once_and_seal_as_the_plain_ones() {
    let current = key("2026-12");
    let retired = key("2026-11");
    let old_record = codec(&retired).encode("u", b"{\"old\":1}").unwrap();
    let kms = ToyKms::default();
    let keyring = block_on(Keyring::unwrap_with(
        &kms,
        wrap(&current),
        vec![wrap(&retired)],
    ))
    .unwrap();
    assert_eq!(kms.calls.load(Ordering::SeqCst), 2);
    assert_eq!(keyring.current_key_id(), "2026-12");
    assert_eq!(keyring.retired_key_ids().collect::<Vec<_>>(), ["2026-11"]);
    let unwrapped = SealedCodec::new(keyring);
    assert_eq!(
        &unwrapped.decode("u", &old_record).unwrap()[..],
        b"{\"old\":1}"
    );
    // What the unwrapped current key seals, the plain one opens.
    let stored = unwrapped.encode("u", b"{}").unwrap();
    assert_eq!(&codec(&current).decode("u", &stored).unwrap()[..], b"{}");
    assert_eq!(
        kms.calls.load(Ordering::SeqCst),
        2,
        "the KMS is not asked again"
    );
}

#[test]
fn an_unwrapper_error_is_returned_as_it_is() {
    let kms = ToyKms::default();
    *kms.fail.lock().unwrap() = Some(
        Error::new(ErrorKind::Provider, "the KMS is unavailable")
            .with_transient(true)
            .with_retry_after(Duration::from_secs(1)),
    );
    let err = block_on(Keyring::unwrap_with(&kms, wrap(&key("k")), vec![])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(err.is_transient());
    assert_eq!(err.to_string(), "the KMS is unavailable");
    let err = block_on(Keyring::unwrap_with(
        &kms,
        wrap(&key("a")),
        vec![wrap(&key("b"))],
    ))
    .unwrap_err();
    assert_eq!(err.to_string(), "the KMS is unavailable");
}

#[test]
fn a_key_unwrapped_under_another_id_or_twice_is_refused() {
    let renaming = ToyKms {
        rename: Some("other".to_owned()),
        ..ToyKms::default()
    };
    let err = block_on(Keyring::unwrap_with(&renaming, wrap(&key("k")), vec![])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        "the key unwrapper returned the data key other for the wrapped key k; return the key \
         under the ID it was asked for"
    );
    let err = block_on(Keyring::unwrap_with(
        &ToyKms::default(),
        wrap(&key("k")),
        vec![wrap(&key("j")), wrap(&key("k"))],
    ))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string().contains("the data key ID k is given twice"),
        "{err}"
    );
    // A key that is not 32 bytes once unwrapped.
    let short = WrappedKey::new("k", vec![PAD; 16]).unwrap();
    let err = block_on(Keyring::unwrap_with(&ToyKms::default(), short, vec![])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[test]
fn wrapped_keys_show_their_id_and_length_only() {
    let wrapped = wrap(&key("k"));
    assert_eq!(
        format!("{wrapped:?}"),
        r#"WrappedKey { id: "k", wrapped_len: 32 }"#
    );
    assert_eq!(wrapped.id(), "k");
    assert_eq!(wrapped.wrapped().len(), 32);
}

/// The codec inside a real store: Redis holds ciphertext only, a record moved under another
/// user's key is refused (the store's error carries the typed refusal), and a rotated keyring
/// still loads what the old key sealed.
#[tokio::test]
async fn sealed_records_in_redis() {
    use credkit_core::Storage;
    use credkit_storage_redis::RedisStorage;
    let Some(server) = support::redis::RedisServer::start() else {
        return;
    };
    let old = key("2026-11");
    let storage = RedisStorage::builder(server.url())
        .with_codec(codec(&old))
        .build()
        .unwrap();
    let record = CredentialRecord::from_json(&typical_record()).unwrap();
    storage.store("user:alice", &record).await.unwrap();

    let mut redis = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let raw: Vec<u8> = redis::cmd("HGET")
        .arg(storage.record_key("user:alice"))
        .arg("rec")
        .query(&mut redis)
        .unwrap();
    assert!(raw.starts_with(b"CKV\x01"));
    let text = String::from_utf8_lossy(&raw);
    assert!(
        !text.contains("planted") && !text.contains("ya29"),
        "a token shows in Redis"
    );
    let loaded = storage.load("user:alice").await.unwrap().unwrap();
    assert_eq!(
        loaded
            .refresh_token()
            .map(secrecy::ExposeSecret::expose_secret),
        Some(REFRESH_TOKEN)
    );

    // Alice's record copied under Bob's key: refused, never served as Bob's.
    redis::cmd("HSET")
        .arg(storage.record_key("user:bob"))
        .arg("rec")
        .arg(&raw)
        .query::<()>(&mut redis)
        .unwrap();
    let err = storage.load("user:bob").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
    assert_eq!(SealedError::of(&err), Some(&SealedError::ForeignOrAltered));

    // After a rotation the old key still opens Alice's record, which is stale.
    let rotated = SealedCodec::new(Keyring::new(key("2026-12")).with_retired(old).unwrap());
    assert!(rotated.is_stale(&raw));
    let storage = RedisStorage::builder(server.url())
        .with_codec(rotated)
        .build()
        .unwrap();
    assert!(storage.load("user:alice").await.unwrap().is_some());
}

#[test]
fn plain_records_are_read_only_while_accepting_plain() {
    let keyring = || Keyring::new(DataKey::new("k1", [9; 32]).unwrap());
    let plain = br#"{"version":1}"#;
    let strict = SealedCodec::new(keyring());
    let err = strict.decode("user-1", plain).unwrap_err();
    assert_eq!(SealedError::of(&err), Some(&SealedError::NotSealed));
    let moving = SealedCodec::new(keyring()).accepting_plain();
    assert_eq!(&moving.decode("user-1", plain).unwrap()[..], plain);
    assert!(moving.is_stale(plain));
    // Not plain JSON, not sealed: refused all the same.
    assert!(moving.decode("user-1", b"garbage").is_err());
    // Stores seal; sealed records open as before.
    let sealed = moving.encode("user-1", plain).unwrap();
    assert_ne!(&sealed[..], plain);
    assert!(!moving.is_stale(&sealed));
    assert_eq!(&strict.decode("user-1", &sealed).unwrap()[..], plain);
}
