//! Serving the script over real HTTP/1.1 connections, with hyper.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::record::RecordedRequest;
use super::script::{PlannedBody, Shared};

/// The largest request body the fake reads; a larger one gets a `413`.
pub(crate) const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// The size of one chunk of an oversize body.
const CHUNK: usize = 64 * 1024;
static FILLER: [u8; CHUNK] = [b' '; CHUNK];

type ReplyBody = UnsyncBoxBody<Bytes, Infallible>;

/// Accepts connections until the task is aborted; aborting drops the `JoinSet`, which aborts
/// every connection still open.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, base: Arc<str>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared), Arc::clone(&base)));
                }
                // Out of file descriptors and the like: back off a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connections so the set does not grow with every request.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, base: Arc<str>) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(ResettableStream {
        inner: stream,
        reset: Arc::clone(&reset),
    });
    let service = service_fn(move |request| {
        answer(
            request,
            Arc::clone(&shared),
            Arc::clone(&base),
            Arc::clone(&reset),
        )
    });
    // A connection that ends in an error (a reset reply, a client that went away) has nothing
    // to report to anyone.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, service)
        .await;
}

/// Why a connection was dropped without a response: the scripted reply was a reset.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection reset")
    }
}

impl std::error::Error for ResetConnection {}

async fn answer(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    base: Arc<str>,
    reset: Arc<AtomicBool>,
) -> Result<Response<ReplyBody>, ResetConnection> {
    let (parts, body) = request.into_parts();
    let Ok(collected) = Limited::new(body, MAX_REQUEST_BODY).collect().await else {
        return Ok(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        ));
    };
    let recorded =
        RecordedRequest::new(parts.method, parts.uri, parts.headers, collected.to_bytes());
    let planned = shared.record_and_plan(recorded, &base);
    if !planned.delay.is_zero() {
        tokio::time::sleep(planned.delay).await;
    }
    let declared = match planned.body {
        PlannedBody::Oversize {
            len,
            declared: true,
        } => Some(len),
        _ => None,
    };
    let body = match planned.body {
        PlannedBody::Full(bytes) => Full::new(bytes).boxed_unsync(),
        PlannedBody::Stall => streamed(stream::pending().boxed()),
        PlannedBody::Drip(interval) => streamed(drip(interval)),
        PlannedBody::Oversize { len, .. } => streamed(filler(len)),
        PlannedBody::Reset => {
            reset.store(true, Ordering::SeqCst);
            return Err(ResetConnection);
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = planned.status;
    *response.headers_mut() = planned.headers;
    if let Some(len) = declared {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    Ok(response)
}

fn plain(status: StatusCode, text: &'static str) -> Response<ReplyBody> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn streamed(chunks: BoxStream<'static, Bytes>) -> ReplyBody {
    StreamBody::new(chunks.map(|chunk| Ok(Frame::data(chunk)))).boxed_unsync()
}

/// `{`, then a space after every `interval`, forever.
fn drip(interval: Duration) -> BoxStream<'static, Bytes> {
    let first = stream::once(async { Bytes::from_static(b"{") });
    let rest = stream::unfold((), move |()| async move {
        tokio::time::sleep(interval).await;
        Some((Bytes::from_static(b" "), ()))
    });
    first.chain(rest).boxed()
}

/// `len` spaces in chunks of [`CHUNK`], all slices of one static buffer.
fn filler(len: u64) -> BoxStream<'static, Bytes> {
    stream::unfold(len, |left| async move {
        if left == 0 {
            return None;
        }
        let size = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
        let chunk: &'static [u8] = FILLER.get(..size).unwrap_or(&FILLER);
        Some((Bytes::from_static(chunk), left - chunk.len() as u64))
    })
    .boxed()
}

/// A `TcpStream` that, once told to, closes with a reset (RST) instead of a clean FIN.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            // A zero linger makes close() send RST at once. tokio deprecates `set_linger`
            // because a *non-zero* linger blocks the thread on drop; zero never blocks.
            #[allow(deprecated)]
            let _ = self.inner.set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
