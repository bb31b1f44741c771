//! No password, token or key in `Debug`, errors or messages; a refused login and a missing
//! database are permanent errors that say what to fix.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_core::{AccessToken, CredentialRecord, ErrorKind, Storage};
use credkit_storage_postgres::PostgresStorage;
use secrecy::SecretString;
use support::PgServer;

fn record() -> CredentialRecord {
    CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.secret-access"))
        .with_refresh_token(SecretString::from("1//secret-refresh"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_goes_in_the_url_and_a_wrong_one_says_what_to_fix() {
    support::require_postgres!();
    let server = PgServer::start();
    let good = PostgresStorage::new(&server.password_url(support::PASSWORD).await).unwrap();
    good.store("k", &record()).await.unwrap();
    assert!(good.load("k").await.unwrap().is_some());
    let shown = format!("{good:?}");
    assert!(!shown.contains(support::PASSWORD), "{shown}");
    assert!(shown.contains(support::PASSWORD_USER), "{shown}");

    let url = server.password_url("not-the-password").await;
    let builder = PostgresStorage::builder(&url);
    assert!(!format!("{builder:?}").contains("not-the-password"));
    let wrong = builder.build().unwrap();
    let err = wrong.load("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        err.to_string()
            .contains("check the user and password in the URL"),
        "{err}"
    );
    let shown = format!("{err} {err:?} {wrong:?}");
    assert!(!shown.contains("not-the-password"), "{shown}");
    assert!(!shown.contains(support::PASSWORD), "{shown}");
    // The server's refusal is kept as the source, by its code and message.
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("28P01"), "{source}");

    // No password at all, to a server that wants one: the driver refuses before asking the
    // server again, and a retry would meet the same: permanent.
    let url = server
        .password_url(support::PASSWORD)
        .await
        .replace(&format!(":{}@", support::PASSWORD), "@");
    let err = PostgresStorage::new(&url)
        .unwrap()
        .load("k")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains("the server wants a password"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_says_so() {
    support::require_postgres!();
    let server = PgServer::start();
    let url = server.url().replace("/postgres", "/no_such_db");
    let err = PostgresStorage::new(&url)
        .unwrap()
        .load("k")
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        err.to_string()
            .contains("check the database name in the URL"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_no_key_and_no_record() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    // A key Postgres cannot hold (a NUL character): refused by the server, whose message
    // quotes nothing of it.
    let key = "user:secret-key\0";
    let err = storage.store(key, &record()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err:?}");
    let shown = format!("{err} {err:?}");
    for secret in ["secret-key", "secret-access", "secret-refresh"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // A lease's and a store's errors on a good key hold neither either.
    let lease = storage
        .lease(
            "user:secret-key",
            &credkit_core::LeaseOptions::new(
                std::time::Duration::from_secs(5),
                credkit_core::SystemClock,
            ),
        )
        .await
        .unwrap()
        .unwrap();
    let other = storage.clone();
    let now = credkit_core::LeaseOptions::new(std::time::Duration::ZERO, credkit_core::SystemClock);
    let err = other.lease("user:secret-key", &now).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("secret-key"), "{err:?}");
    assert!(!format!("{lease:?} {storage:?}").contains("secret"));
    lease.release().await.unwrap();
}
