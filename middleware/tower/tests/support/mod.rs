//! Helpers shared by the integration tests: a loopback API server that rejects tokens with
//! 401, a counting token source, a body type like tonic's, and hyper-util clients.
// Each test binary uses a different subset; helpers may unwrap, as tests do.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait_free::Counting;
use bytes::Bytes;
use credkit_core::{AccessToken, Credentials};
use http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Barrier;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Bytes,
    pub status: StatusCode,
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    /// Statuses to answer first, whatever the token (a flaky backend).
    scripted: Mutex<VecDeque<StatusCode>>,
}

/// An API on 127.0.0.1 that accepts `Bearer new` and `Basic mine`, answers 401 to anything
/// else, and echoes the request body. With a gate, requests carrying `Bearer old` wait until
/// `n` of them have arrived, so that all of them are rejected with that one token.
#[derive(Clone)]
pub struct ApiServer {
    addr: SocketAddr,
    state: Arc<State>,
}

impl ApiServer {
    pub async fn start() -> Self {
        Self::start_with_gate(None).await
    }

    pub async fn start_gated(n: usize) -> Self {
        Self::start_with_gate(Some(Arc::new(Barrier::new(n)))).await
    }

    async fn start_with_gate(gate: Option<Arc<Barrier>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&shared);
                let gate = gate.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(Arc::clone(&state), gate.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn count(&self, status: StatusCode) -> usize {
        self.seen().iter().filter(|s| s.status == status).count()
    }

    /// Answers the next requests with these statuses, whatever they carry.
    pub fn script(&self, statuses: impl IntoIterator<Item = StatusCode>) {
        self.state.scripted.lock().unwrap().extend(statuses);
    }
}

async fn handle(
    state: Arc<State>,
    gate: Option<Arc<Barrier>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let scripted = state.scripted.lock().unwrap().pop_front();
    let status = match (scripted, authorization.as_deref()) {
        (Some(status), _) => status,
        (None, Some("Bearer new" | "Basic mine")) => StatusCode::OK,
        (None, Some("Bearer old")) => {
            if let Some(gate) = &gate {
                gate.wait().await;
            }
            StatusCode::UNAUTHORIZED
        }
        (None, _) => StatusCode::UNAUTHORIZED,
    };
    state.seen.lock().unwrap().push(Seen {
        path,
        authorization,
        body: body.clone(),
        status,
    });
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    Ok(response)
}

mod async_trait_free {
    use super::*;

    /// Hands out `Bearer new` and counts how many times it was asked.
    #[derive(Debug, Default)]
    pub struct Counting(pub AtomicUsize);

    #[async_trait::async_trait]
    impl credkit_core::TokenSource for Counting {
        async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new("new"))
        }
    }
}

/// Credentials holding the token `old` (no expiry: fresh until a 401 drops it), whose source
/// hands out `new`; and the count of its fetches.
pub fn credentials() -> (Credentials, Arc<Counting>) {
    let source = Arc::new(Counting::default());
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_initial_token(AccessToken::new("old"))
        .build()
        .unwrap();
    (credentials, source)
}

/// A hyper-util client for bodies of type `B`, which resolves every name to `to`: so that
/// `http://api.example:PORT` reaches the loopback server.
pub fn client<B>(to: SocketAddr) -> Client<HttpConnector<Resolver>, B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let resolver = Resolver(to);
    Client::builder(TokioExecutor::new()).build(HttpConnector::new_with_resolver(resolver))
}

/// Resolves every name to one address.
#[derive(Clone, Debug)]
pub struct Resolver(SocketAddr);

impl tower::Service<Name> for Resolver {
    type Response = std::iter::Once<SocketAddr>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(std::iter::once(self.0)))
    }
}

/// A body like tonic's: boxed, not `Clone`, made from `Bytes`, or a stream of unknown size.
pub struct AnyBody(BoxBody<Bytes, BoxError>);

impl AnyBody {
    pub fn stream(chunks: &[&'static [u8]]) -> Self {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c))))
            .collect();
        Self(StreamBody::new(futures::stream::iter(frames)).boxed())
    }
}

impl From<Bytes> for AnyBody {
    fn from(bytes: Bytes) -> Self {
        Self(Full::new(bytes).map_err(|never| match never {}).boxed())
    }
}

impl http_body::Body for AnyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// The body of `response`, read whole.
pub async fn body_of(response: Response<Incoming>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}
