//! Behaviour that mutation testing found unpinned: each test here fails for a mutant that the
//! rest of the suite let through (see `.cargo/mutants.toml` and CONTRIBUTING.md).
#![allow(clippy::unwrap_used)]

mod support;

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use credkit_tower::{AuthLayer, BoxError};
use futures::task::noop_waker_ref;
use http::{Request, Response};
use http_body_util::Full;
use tower::{Layer, Service};

use support::credentials;

/// A service that is never ready: it reports why.
#[derive(Clone, Debug)]
struct Overloaded;

impl Service<Request<Full<Bytes>>> for Overloaded {
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = Ready<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Err("overloaded".into()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        ready(Ok(Response::new(Full::default())))
    }
}

#[test]
fn readiness_is_the_inner_services_and_debug_shows_the_stack_but_no_token() {
    let (credentials, _source) = credentials();
    let layer = AuthLayer::new(credentials);
    let layer_debug = format!("{layer:?}");
    assert!(
        layer_debug.starts_with("AuthLayer { settings:"),
        "{layer_debug}"
    );
    let mut service = layer.layer(Overloaded);
    let mut cx = Context::from_waker(noop_waker_ref());
    let Poll::Ready(Err(error)) = service.poll_ready(&mut cx) else {
        panic!("the inner service's error");
    };
    assert_eq!(error.to_string(), "overloaded");
    let debug = format!("{service:?}");
    assert!(
        debug.starts_with("Auth { inner: Overloaded, settings:"),
        "{debug}"
    );
    assert!(
        debug.contains("has_token: true") && !debug.contains("Bearer"),
        "{debug}"
    );
    let future = service.call(Request::new(Full::default()));
    let future_debug = format!("{future:?}");
    assert!(
        future_debug.starts_with("ResponseFuture { state:"),
        "{future_debug}"
    );
}
