//! `object_store`'s real GCS client against a loopback stand-in of Cloud Storage, its bearer
//! tokens from credkit: put, read back, list, delete; one token request for a thousand reads;
//! a second when the token expires; a refused refresh as an error that names its cause.

mod support;

use std::sync::Arc;
use std::time::Duration;

use credkit_object_store::GcsCredentialProvider;
use credkit_testing::{FakeClock, FakeTokenServer, Reply};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use support::{BUCKET, CLIENT_SECRET, FakeGcs, REFRESH_TOKEN, store_builder, user_credentials};

const TOKEN_1: &str = "fake-access-token-1";
const TOKEN_2: &str = "fake-access-token-2";

#[tokio::test]
async fn put_read_list_and_delete_with_credkit_tokens() {
    let server = FakeTokenServer::start().await.unwrap();
    let gcs = FakeGcs::start().await;
    gcs.accept(TOKEN_1);
    let clock = FakeClock::new();
    let store = store_builder(&gcs, user_credentials(&server, &clock))
        .build()
        .unwrap();

    let report = Path::from("reports/2026/q1.csv");
    let other = Path::from("reports/2026/q2 draft.csv");
    store
        .put(&report, PutPayload::from_static(b"a,b\n1,2\n"))
        .await
        .unwrap();
    store
        .put(&other, PutPayload::from_static(b"c\n3\n"))
        .await
        .unwrap();
    store
        .put(&Path::from("elsewhere/x"), PutPayload::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(
        gcs.names(),
        [
            "elsewhere/x",
            "reports/2026/q1.csv",
            "reports/2026/q2 draft.csv"
        ]
    );

    let read = store.get(&report).await.unwrap().bytes().await.unwrap();
    assert_eq!(&read[..], b"a,b\n1,2\n");
    let head = store.head(&other).await.unwrap();
    assert_eq!(head.size, 4);

    let mut listed: Vec<(String, u64)> = store
        .list(Some(&Path::from("reports")))
        .map_ok(|meta| (meta.location.to_string(), meta.size))
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("reports/2026/q1.csv".to_owned(), 8),
            ("reports/2026/q2 draft.csv".to_owned(), 4)
        ]
    );

    store.delete(&report).await.unwrap();
    let err = store.get(&report).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    assert_eq!(gcs.names(), ["elsewhere/x", "reports/2026/q2 draft.csv"]);

    // Every request carried the one token, fetched once.
    let seen = gcs.seen();
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|s| s.bearer.as_deref() == Some(TOKEN_1)));
    assert!(
        seen.iter()
            .all(|s| s.path.starts_with(&format!("/{BUCKET}")))
    );
    assert_eq!(seen[3].path, format!("/{BUCKET}/reports/2026/q1.csv"));
    assert_eq!(seen[5].path, format!("/{BUCKET}"));
    assert!(seen[5].query.as_deref().unwrap().contains("prefix=reports"));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_reads_cost_one_token_request() {
    let server = FakeTokenServer::start().await.unwrap();
    let gcs = FakeGcs::start().await;
    gcs.accept(TOKEN_1);
    gcs.insert("data/part-0.parquet", b"PAR1");
    let clock = FakeClock::new();
    let store = store_builder(&gcs, user_credentials(&server, &clock))
        .build()
        .unwrap();
    let path = Path::from("data/part-0.parquet");

    // 32 at a time from the start: the first 32 all find no token, and share one refresh.
    let reads: Vec<usize> = futures::stream::iter(0..1000)
        .map(|_| {
            let store = &store;
            let path = &path;
            async move { store.get(path).await?.bytes().await.map(|b| b.len()) }
        })
        .buffer_unordered(32)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(reads.len(), 1000);
    assert!(reads.iter().all(|&len| len == 4));

    assert_eq!(server.request_count(), 1);
    assert_eq!(gcs.bearers(), [(Some(TOKEN_1.to_owned()), 1000)]);
}

#[tokio::test]
async fn a_token_that_expires_during_the_run_is_replaced_once() {
    let server = FakeTokenServer::start().await.unwrap();
    let gcs = FakeGcs::start().await;
    gcs.accept(TOKEN_1);
    gcs.accept(TOKEN_2);
    gcs.insert("data/x", b"x");
    let clock = FakeClock::new();
    let store = store_builder(&gcs, user_credentials(&server, &clock))
        .build()
        .unwrap();
    let path = Path::from("data/x");

    for _ in 0..100 {
        store.get(&path).await.unwrap().bytes().await.unwrap();
    }
    assert_eq!(server.request_count(), 1);

    // The token (one hour) expires; the next read waits for one new token, and every read
    // after it uses that one.
    clock.advance(Duration::from_secs(3601));
    for _ in 0..100 {
        store.get(&path).await.unwrap().bytes().await.unwrap();
    }
    assert_eq!(server.request_count(), 2);
    assert_eq!(
        gcs.bearers(),
        [
            (Some(TOKEN_1.to_owned()), 100),
            (Some(TOKEN_2.to_owned()), 100)
        ]
    );
}

#[tokio::test]
async fn a_refused_refresh_is_an_error_naming_the_cause_and_no_secret() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let gcs = FakeGcs::start().await;
    let clock = FakeClock::new();
    let store = store_builder(&gcs, user_credentials(&server, &clock))
        .build()
        .unwrap();

    let err = store.get(&Path::from("data/x")).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(
        message,
        "Generic GCS error: invalid_grant: Token has been expired or revoked."
    );
    let debug = format!("{err:?}");
    for secret in [REFRESH_TOKEN, CLIENT_SECRET] {
        assert!(
            !message.contains(secret) && !debug.contains(secret),
            "{debug}"
        );
    }

    // credkit's typed error is the source: its OAuth code, status and transience.
    let object_store::Error::Generic {
        store: name,
        source,
    } = &err
    else {
        panic!("not a generic error: {err:?}");
    };
    assert_eq!(*name, "GCS");
    let cause = source.downcast_ref::<credkit_core::Error>().unwrap();
    assert_eq!(cause.oauth_error(), Some("invalid_grant"));
    assert_eq!(cause.http_status(), Some(400));
    assert!(!cause.is_transient());

    // Nothing reached the bucket, and the refusal was not retried.
    assert!(gcs.seen().is_empty());
    assert_eq!(server.request_count(), 1);

    // A put fails the same way.
    let err = store
        .put(&Path::from("data/y"), PutPayload::from_static(b"y"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
}

#[tokio::test]
async fn after_a_401_the_served_token_is_dropped_and_the_next_request_refreshes() {
    let server = FakeTokenServer::start().await.unwrap();
    let gcs = FakeGcs::start().await;
    gcs.accept(TOKEN_2); // the first token was revoked before its expiry
    gcs.insert("data/x", b"x");
    let clock = FakeClock::new();
    let provider = Arc::new(GcsCredentialProvider::new(user_credentials(
        &server, &clock,
    )));
    let store = store_builder(&gcs, provider.credentials().clone())
        .with_credentials(provider.clone())
        .build()
        .unwrap();
    let path = Path::from("data/x");

    let err = store.get(&path).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::Unauthenticated { .. }),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains(TOKEN_1));
    // Unasked, the refused token would be sent until it expires:
    assert!(store.get(&path).await.is_err());
    assert_eq!(server.request_count(), 1);

    assert!(provider.invalidate_served_token());
    assert!(!provider.invalidate_served_token());
    assert_eq!(
        &store.get(&path).await.unwrap().bytes().await.unwrap()[..],
        b"x"
    );
    assert_eq!(server.request_count(), 2);
    assert_eq!(
        gcs.bearers(),
        [(Some(TOKEN_1.to_owned()), 2), (Some(TOKEN_2.to_owned()), 1)]
    );
}

#[tokio::test]
async fn a_token_the_bucket_refuses_is_the_bucket_s_error() {
    // The stand-in accepts no token: object_store reports its 401, with credkit's token in no
    // part of the error.
    let server = FakeTokenServer::start().await.unwrap();
    let gcs = FakeGcs::start().await;
    let clock = FakeClock::new();
    let store = store_builder(&gcs, user_credentials(&server, &clock))
        .build()
        .unwrap();
    let err = store.get(&Path::from("data/x")).await.unwrap_err();
    let debug = format!("{err:?} {err}");
    assert!(!debug.contains(TOKEN_1), "{debug}");
    assert_eq!(gcs.bearers(), [(Some(TOKEN_1.to_owned()), 1)]);
    assert_eq!(gcs.seen()[0].status, http::StatusCode::UNAUTHORIZED);
}
