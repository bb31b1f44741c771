//! What `RedisStorage` writes: keys that reveal nothing, a namespace of its own, bytes through
//! the codec; an unreachable server is a transient error; the URL's password never shows.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_core::{AccessToken, CredentialRecord, Error, ErrorKind, Result, Storage};
use credkit_storage_redis::{RecordCodec, RedisStorage};
use secrecy::SecretString;
use support::RedisServer;
use zeroize::Zeroizing;

fn record() -> CredentialRecord {
    CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.secret-access"))
        .with_refresh_token(SecretString::from("1//secret-refresh"))
}

fn keys(server: &RedisServer) -> Vec<String> {
    match server.command(&["KEYS", "*"]) {
        redis::Value::Array(keys) => keys
            .into_iter()
            .map(|key| match key {
                redis::Value::BulkString(bytes) => String::from_utf8(bytes).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn keys_are_prefixed_and_reveal_nothing() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::builder(server.url())
        .with_prefix("app:")
        .build()
        .unwrap();
    storage
        .store("user:alice@example.com", &record())
        .await
        .unwrap();
    let keys = keys(&server);
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].starts_with("app:") && !keys[0].contains("alice"),
        "{keys:?}"
    );
    assert_eq!(keys[0], storage.record_key("user:alice@example.com"));
    // Another prefix is another namespace.
    let other = RedisStorage::builder(server.url())
        .with_prefix("other:")
        .build()
        .unwrap();
    assert!(
        other
            .load("user:alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

/// Flips every bit: stands for a cipher.
#[derive(Debug)]
struct Flip;

impl RecordCodec for Flip {
    fn encode(&self, _key: &str, json: &[u8]) -> Result<Vec<u8>> {
        Ok(json.iter().map(|b| !b).collect())
    }
    fn decode(&self, _key: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if stored.first() == Some(&b'{') {
            return Err(Error::new(ErrorKind::Storage, "not sealed"));
        }
        Ok(Zeroizing::new(stored.iter().map(|b| !b).collect()))
    }
}

#[tokio::test]
async fn records_pass_through_the_codec() {
    support::require_redis!();
    let server = RedisServer::start();
    let sealed = RedisStorage::builder(server.url())
        .with_codec(Flip)
        .build()
        .unwrap();
    sealed.store("k", &record()).await.unwrap();
    let raw = server.command(&["HGET", &sealed.record_key("k"), "rec"]);
    let redis::Value::BulkString(raw) = raw else {
        panic!("{raw:?}")
    };
    assert!(!String::from_utf8_lossy(&raw).contains("secret"));
    assert!(sealed.load("k").await.unwrap().is_some());

    // A plain record read through the codec is a record that cannot be read, for good.
    let plain = RedisStorage::new(&server.url()).unwrap();
    plain.store("k", &record()).await.unwrap();
    let err = sealed.load("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_error() {
    support::require_redis!();
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let storage = RedisStorage::builder(url)
        .with_timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let err = storage.load("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.is_transient(), "{err}");
}

#[test]
fn debug_never_shows_the_password() {
    support::require_redis!();
    let url = "redis://:hunter2@127.0.0.1:6379/0";
    let builder = RedisStorage::builder(url).with_prefix("app:");
    let shown = format!("{builder:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("127.0.0.1:6379") && shown.contains("app:"),
        "{shown}"
    );
    let storage = builder.build().unwrap();
    let shown = format!("{storage:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
    // Nor is any part of a URL that does not parse.
    let shown = format!("{:?}", RedisStorage::builder("redis://:hunter2@[::1"));
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn a_password_protected_server_takes_the_password_in_the_url() {
    support::require_redis!();
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let at = |userinfo: &str| format!("redis://{userinfo}127.0.0.1:{}/0", server.port());
    let good = RedisStorage::new(&at(":s3cret-pw@")).unwrap();
    good.store("k", &record()).await.unwrap();
    assert!(good.load("k").await.unwrap().is_some());

    // A wrong password, or none: permanent (a new connection fails the same way), saying what
    // to fix, and never showing the password.
    for userinfo in [":not-the-pw@", ""] {
        let storage = RedisStorage::new(&at(userinfo)).unwrap();
        let err = storage.load("k").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.is_transient(), "{userinfo}: {err:?}");
        assert!(
            err.to_string()
                .contains("the server refused the user name or password"),
            "{userinfo}: {err}"
        );
        let shown = format!("{err:?}");
        assert!(
            !shown.contains("not-the-pw") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
