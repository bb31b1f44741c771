//! The stack both the benchmark and the allocation test drive: an inner service that answers
//! at once, and one request through it per call, polled once with a no-op waker.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock, TokenState};
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;

/// A realistic token length.
pub(crate) const TOKEN: &str =
    "ya29.a0AfB_byC-benchmark-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

/// An inner service that answers 200 at once and allocates nothing.
#[derive(Clone, Debug)]
pub(crate) struct Answer;

impl Service<Request<Full<Bytes>>> for Answer {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> Self::Future {
        // Drop the request here, as a client would once it is written out.
        drop(request);
        ready(Ok(Response::new(())))
    }
}

/// Fresh credentials on the system clock, with a quota project: both headers are written.
pub(crate) fn credentials() -> Credentials {
    credentials_with(true)
}

/// Fresh credentials on the system clock, with or without a quota project.
pub(crate) fn credentials_with(quota_project: bool) -> Credentials {
    let token = AccessToken::new(TOKEN).with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    let mut builder =
        Credentials::builder(StaticSource::new(token.clone())).with_initial_token(token);
    if quota_project {
        builder = builder.with_quota_project("bench-project");
    }
    let credentials = builder.build().unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    credentials
}

/// A request as an application sends one: an https URI, two headers, a small body.
pub(crate) fn request(uri: &http::Uri) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::from_static(b"{\"name\":\"x\"}")));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

/// One request through `service`: ready, call, and the response future polled once.
pub(crate) fn one<S>(service: &mut S, request: Request<Full<Bytes>>) -> bool
where
    S: Service<Request<Full<Bytes>>>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready(Ok(())) = service.poll_ready(&mut cx) else {
        panic!("the service is always ready");
    };
    let future = pin!(service.call(request));
    matches!(future.poll(&mut cx), Poll::Ready(Ok(_)))
}
