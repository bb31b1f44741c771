//! A `MockTransport` driven through `Arc<dyn Transport>`.

use std::sync::Arc;

use bytes::Bytes;
use credkit_core::{ErrorKind, Transport, TransportFailure};
use credkit_testing::MockTransport;
use futures::executor::block_on;

#[test]
fn mock_transport_through_a_trait_object() {
    let mut mock = MockTransport::new();
    mock.expect_send()
        .withf(|request| {
            request.method() == http::Method::POST
                && request.uri() == "https://oauth2.googleapis.com/token"
                && request.body().as_ref() == b"grant_type=refresh_token"
        })
        .times(1)
        .returning(|_| {
            Ok(http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Bytes::from_static(
                    br#"{"access_token":"t","expires_in":3600}"#,
                ))
                .unwrap())
        });
    mock.expect_send().times(1).returning(|_| {
        Err(credkit_core::Error::transport(
            TransportFailure::Timeout,
            "timed out",
        ))
    });
    let transport: Arc<dyn Transport> = Arc::new(mock);

    let request = http::Request::post("https://oauth2.googleapis.com/token")
        .body(Bytes::from_static(b"grant_type=refresh_token"))
        .unwrap();
    let response = block_on(transport.send(request)).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");

    let again = http::Request::get("https://example.test/")
        .body(Bytes::new())
        .unwrap();
    let err = block_on(transport.send(again)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_transient());
}
