//! Record bytes pass through the codec with the caller's key, both ways: an encrypting codec
//! keeps secrets out of the table, and a record moved under another key no longer loads. A
//! record that cannot be read is a permanent error that says what to do.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use credkit_core::{AccessToken, CredentialRecord, Error, ErrorKind, Result, Storage};
use credkit_storage_postgres::{PostgresStorage, RecordCodec};
use secrecy::{ExposeSecret, SecretString};
use support::PgServer;
use zeroize::Zeroizing;

fn record() -> CredentialRecord {
    CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.secret-access"))
        .with_refresh_token(SecretString::from("1//secret-refresh"))
}

/// XORs every byte with the key's length and prefixes the key: stands for an AEAD with the key
/// as associated data. Remembers the keys it was given.
#[derive(Debug, Default)]
struct Bound {
    keys: Mutex<Vec<String>>,
}

impl RecordCodec for Bound {
    fn encode(&self, key: &str, json: &[u8]) -> Result<Vec<u8>> {
        self.keys.lock().unwrap().push(key.to_owned());
        let mask = u8::try_from(key.len() % 251).unwrap() | 0x80;
        let mut sealed = key.as_bytes().to_vec();
        sealed.push(0);
        sealed.extend(json.iter().map(|b| b ^ mask));
        Ok(sealed)
    }

    fn decode(&self, key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.keys.lock().unwrap().push(key.to_owned());
        let Some(body) = stored
            .strip_prefix(key.as_bytes())
            .and_then(|rest| rest.strip_prefix(&[0]))
        else {
            return Err(Error::new(ErrorKind::Storage, "sealed for another key"));
        };
        let mask = u8::try_from(key.len() % 251).unwrap() | 0x80;
        Ok(Zeroizing::new(body.iter().map(|b| b ^ mask).collect()))
    }
}

async fn raw(server: &PgServer, storage: &PostgresStorage, key: &str) -> Vec<u8> {
    let sql = format!(
        "SELECT record FROM {} WHERE key = $1",
        storage.records_table()
    );
    server
        .client()
        .await
        .query_one(&sql, &[&key])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_pass_through_the_codec_with_their_key() {
    support::require_postgres!();
    let server = PgServer::start();
    let codec = Arc::new(Bound::default());
    let sealed = PostgresStorage::builder(server.url())
        .with_codec(Arc::clone(&codec))
        .build()
        .unwrap();
    sealed.store("user-1", &record()).await.unwrap();
    let stored = raw(&server, &sealed, "user-1").await;
    assert!(!String::from_utf8_lossy(&stored).contains("secret"));
    assert!(stored.starts_with(b"user-1\0"));
    let back = sealed.load("user-1").await.unwrap().unwrap();
    assert_eq!(
        back.refresh_token().unwrap().expose_secret(),
        "1//secret-refresh"
    );
    assert_eq!(*codec.keys.lock().unwrap(), ["user-1", "user-1"]);

    // The row copied under another key: the codec refuses it, for good.
    server
        .execute(&format!(
            "INSERT INTO {t} (key, record, generation) SELECT 'user-2', record, 1 FROM {t} WHERE key = 'user-1'",
            t = sealed.records_table()
        ))
        .await;
    let err = sealed.load("user-2").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
    // The codec's reason, not "remove it": a key the codec lacks must not log the user out.
    assert!(
        err.to_string()
            .contains("could not be decoded: sealed for another key"),
        "{err}"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "sealed for another key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_is_not_one_is_a_permanent_error_that_shows_none_of_it() {
    support::require_postgres!();
    let server = PgServer::start();
    let plain = PostgresStorage::new(&server.url()).unwrap();
    plain.store("k", &record()).await.unwrap();
    // Half a record: a secret, and no end.
    server
        .execute(&format!(
            "UPDATE {} SET record = convert_to('{{\"refresh_token\":\"1//secret-refresh', 'UTF8')",
            plain.records_table()
        ))
        .await;
    let err = plain.load("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
    assert!(
        err.to_string()
            .contains("not a readable record; remove it to start afresh"),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret-refresh"), "{shown}");
    // Its next store replaces it.
    plain.store("k", &record()).await.unwrap();
    assert!(plain.load("k").await.unwrap().is_some());
}
