//! Sent outside a tokio runtime, a request is a typed error, never a panic.
#![allow(clippy::unwrap_used)]

use credkit_core::bytes::Bytes;
use credkit_core::{ErrorKind, Transport};
use credkit_reqwest::ReqwestTransport;

#[test]
fn outside_a_tokio_runtime_a_request_is_a_configuration_error_not_a_panic() {
    let transport = ReqwestTransport::new().unwrap();
    let request = http::Request::get("http://127.0.0.1:9/")
        .body(Bytes::new())
        .unwrap();
    let err = futures::executor::block_on(transport.send(request)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_transient());
    assert!(err.to_string().contains("needs a tokio runtime"), "{err}");
}
