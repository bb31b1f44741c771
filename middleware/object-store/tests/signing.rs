//! Signed URLs from `object_store`'s real GCS client with credkit's signers: a service-account
//! key, IAM's `signBlob` through credkit-impersonated (on a multi-threaded runtime; an error, not
//! a hang, on a current-thread one), and `object_store` calling `signBlob` itself with the store's
//! credkit token. Each signature is checked with the key's public half.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use credkit_core::{AccessToken, Credentials, StaticSource};
use credkit_impersonated::IamSigner;
use credkit_object_store::GcsSigningProvider;
use credkit_reqwest::ReqwestTransport;
use credkit_service_account::ServiceAccountKey;
use credkit_testing::{FakeClock, FakeIamServer, FakeTokenServer, TestKey};
use http::Method;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
};
use object_store::path::Path;
use object_store::signer::Signer as _;
use object_store::{ClientOptions, ObjectStoreExt as _, PutPayload};
use support::{BUCKET, FakeGcs, store_builder, string_to_sign, user_credentials};

const EMAIL: &str = "signer@credkit-test.iam.gserviceaccount.com";
const TEN_MINUTES: Duration = Duration::from_secs(600);

fn static_credentials(token: &str) -> Credentials {
    Credentials::new(StaticSource::new(AccessToken::new(token)))
}

/// Checks the URL's shape and returns what it signs and its signature.
fn check_url(url: &url::Url, path: &str) -> (String, Vec<u8>) {
    assert_eq!(url.path(), format!("/{BUCKET}/{path}"));
    let credential = url
        .query_pairs()
        .find(|(k, _)| k == "X-Goog-Credential")
        .unwrap()
        .1
        .into_owned();
    assert!(credential.starts_with(&format!("{EMAIL}/")), "{credential}");
    assert!(credential.ends_with("/auto/storage/goog4_request"));
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "X-Goog-Expires" && v == "600")
    );
    string_to_sign(url)
}

#[tokio::test]
async fn a_service_account_key_signs_urls_that_verify_with_its_public_key() {
    let key = TestKey::generate().unwrap();
    let signer = ServiceAccountKey::from_json_str(
        &key.service_account_json(EMAIL, "https://oauth2.googleapis.com/token"),
    )
    .unwrap()
    .signer();
    let gcs = FakeGcs::start().await;
    let store = store_builder(&gcs, static_credentials("ya29.store"))
        .with_signing_credentials(Arc::new(GcsSigningProvider::from_signer(signer)))
        .build()
        .unwrap();

    let url = store
        .signed_url(
            Method::GET,
            &Path::from("reports/q1 final.csv"),
            TEN_MINUTES,
        )
        .await
        .unwrap();
    let (string, signature) = check_url(&url, "reports/q1%20final.csv");
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_der())
        .verify(string.as_bytes(), &signature)
        .unwrap();

    // Signing touched neither the bucket nor anything else.
    assert!(gcs.seen().is_empty());
    // A signature over anything else does not verify (the check can fail).
    assert!(
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_der())
            .verify(format!("{string}x").as_bytes(), &signature)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iam_signer_signs_on_a_multi_threaded_runtime() {
    let iam = FakeIamServer::builder()
        .with_accepted_bearer("ya29.signer-source")
        .start()
        .await
        .unwrap();
    let signer = IamSigner::builder(static_credentials("ya29.signer-source"), EMAIL)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .build()
        .unwrap();
    let gcs = FakeGcs::start().await;
    let store = store_builder(&gcs, static_credentials("ya29.store"))
        .with_signing_credentials(Arc::new(GcsSigningProvider::from_signer(signer)))
        .build()
        .unwrap();

    let url = store
        .signed_url(Method::GET, &Path::from("a/b.bin"), TEN_MINUTES)
        .await
        .unwrap();
    let (string, signature) = check_url(&url, "a/b.bin");
    assert!(iam.verify(string.as_bytes(), &signature));
    let requests = iam.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path(),
        format!("/v1/projects/-/serviceAccounts/{EMAIL}:signBlob")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_iam_signer_on_a_current_thread_runtime_is_an_error_not_a_hang() {
    let iam = FakeIamServer::start().await.unwrap();
    let signer = IamSigner::builder(static_credentials("ya29.signer-source"), EMAIL)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .build()
        .unwrap();
    let gcs = FakeGcs::start().await;
    let store = store_builder(&gcs, static_credentials("ya29.store"))
        .with_signing_credentials(Arc::new(GcsSigningProvider::from_signer(signer)))
        .build()
        .unwrap();

    let err = store
        .signed_url(Method::GET, &Path::from("a/b.bin"), TEN_MINUTES)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("multi-threaded tokio runtime"),
        "{err}"
    );
}

/// `object_store`'s `signBlob` URL is fixed (`https://iamcredentials.googleapis.com/…`): this
/// connector sends those requests to the fake IAM server on loopback instead, and refuses
/// every other host that is not loopback, so nothing leaves the machine.
#[derive(Debug)]
struct IamOnLoopback {
    iam: String,
}

#[derive(Debug)]
struct Redirect {
    client: reqwest::Client,
    iam: String,
}

impl HttpConnector for IamOnLoopback {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let _ = options;
        Ok(HttpClient::new(Redirect {
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            iam: self.iam.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl HttpService for Redirect {
    async fn call(&self, mut request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let uri = request.uri().clone();
        match uri.host() {
            Some("iamcredentials.googleapis.com") => {
                let path = uri.path_and_query().unwrap().as_str();
                *request.uri_mut() = format!("{}{path}", self.iam).parse().unwrap();
            }
            Some("127.0.0.1") => {}
            _ => {
                return Err(HttpError::new(
                    HttpErrorKind::Connect,
                    std::io::Error::other(format!("the test refuses to reach {uri}")),
                ));
            }
        }
        self.client.call(request).await
    }
}

#[tokio::test]
async fn with_sign_blob_object_store_calls_iam_itself_with_the_store_s_credkit_token() {
    let server = FakeTokenServer::start().await.unwrap();
    let clock = FakeClock::new();
    let iam = FakeIamServer::builder()
        .with_accepted_bearer("fake-access-token-1")
        .start()
        .await
        .unwrap();
    let gcs = FakeGcs::start().await;
    gcs.accept("fake-access-token-1");
    let store = store_builder(&gcs, user_credentials(&server, &clock))
        .with_http_connector(IamOnLoopback { iam: iam.url() })
        .with_signing_credentials(Arc::new(GcsSigningProvider::sign_blob(EMAIL)))
        .build()
        .unwrap();

    // The store's token serves the bucket and IAM alike: one token request for both.
    store
        .put(&Path::from("a/b.bin"), PutPayload::from_static(b"b"))
        .await
        .unwrap();
    let url = store
        .signed_url(Method::GET, &Path::from("a/b.bin"), TEN_MINUTES)
        .await
        .unwrap();
    let (string, signature) = check_url(&url, "a/b.bin");
    assert!(iam.verify(string.as_bytes(), &signature));
    let requests = iam.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer fake-access-token-1")
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn without_a_signer_signed_urls_fail_saying_how_to_give_one() {
    let gcs = FakeGcs::start().await;
    let store = store_builder(&gcs, static_credentials("ya29.store"))
        .build()
        .unwrap();
    let err = store
        .signed_url(Method::GET, &Path::from("a"), TEN_MINUTES)
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotSupported { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("signed URLs need a signer"), "{message}");
    assert!(message.contains("GcsSigningProvider"), "{message}");
}
