//! Replay policies: whether, and how, a request rejected with a 401 can be sent a second time.

use bytes::Bytes;
use futures::future::BoxFuture;
use http::Request;
use http::request::Parts;
use http_body::Body;
use http_body_util::{BodyExt, Limited};

use crate::BoxError;

/// How [`Auth`](crate::Auth) keeps a copy of a request so that it can replay it once after a
/// 401: [`CloneBody`] (the default), [`BufferBody`], or [`NoReplay`].
///
/// A request can be replayed only if its body can be sent twice. Rust cannot ask a generic
/// body whether it can be cloned, so the layer's type says how: set with
/// [`AuthLayer::without_replay`](crate::AuthLayer::without_replay) and
/// [`AuthLayer::with_buffered_replay`](crate::AuthLayer::with_buffered_replay).
///
/// Sealed: these three are the only policies.
///
/// ```
/// use credkit_tower::{AuthLayer, BufferBody, NoReplay};
/// # use credkit_core::{AccessToken, Credentials, StaticSource};
/// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let never: AuthLayer<NoReplay> = AuthLayer::new(credentials.clone()).without_replay();
/// let buffered: AuthLayer<BufferBody> = AuthLayer::new(credentials).with_buffered_replay(64 * 1024);
/// # let _ = (never, buffered);
/// ```
pub trait ReplayPolicy<B>: Prepare<B> {}

/// Replay by cloning the body: for body types that are `Clone` (`http_body_util::Full`,
/// `Empty`, `String`, `Bytes`, `()`). The default.
///
/// Each authorized request keeps a copy of its head (method, URI, headers, extensions) and
/// a clone of its body until the response arrives: the price of being able to replay it.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct CloneBody;

/// Never replay: a 401 still drops the rejected token, so the next request gets a new one,
/// and is returned as it came. Works with every body type and keeps no copy of the request.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct NoReplay;

/// Replay by reading the body into memory first, when its size hint says it holds at most the
/// limit: for body types that are not `Clone` but can be made from [`Bytes`] (`From<Bytes>`).
///
/// A body whose size is unknown (a stream) or over the limit is sent as it is, unread, and
/// its request is not replayed. A buffered body is sent as one chunk once it is whole; a
/// body with trailers fails the request, since a body made from `Bytes` cannot carry them.
#[derive(Clone, Copy, Debug)]
pub struct BufferBody {
    limit: usize,
}

impl BufferBody {
    /// Buffer bodies of up to `limit` bytes.
    ///
    /// ```
    /// use credkit_tower::BufferBody;
    ///
    /// assert_eq!(BufferBody::new(1024).limit(), 1024);
    /// ```
    pub const fn new(limit: usize) -> Self {
        Self { limit }
    }

    /// The largest body, in bytes, that is buffered for a replay.
    ///
    /// ```
    /// # use credkit_tower::BufferBody;
    /// assert_eq!(BufferBody::new(0).limit(), 0);
    /// ```
    pub const fn limit(&self) -> usize {
        self.limit
    }
}

impl<B: Clone> ReplayPolicy<B> for CloneBody {}
impl<B> ReplayPolicy<B> for NoReplay {}
impl<B> ReplayPolicy<B> for BufferBody
where
    B: Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
}

pub(crate) mod sealed {
    use super::{BoxFuture, Bytes, Parts, Request};
    use crate::BoxError;

    /// Where a request's copy waits for a replay, beside the service it goes to: [`Kept`] for
    /// the policies that keep one, [`Nothing`] for [`NoReplay`](super::NoReplay), whose
    /// `Option<Nothing>` takes no room in the response future.
    #[allow(unreachable_pub)] // sealed: never named outside
    pub trait Keep<S, B>: Sized {
        /// Keeps `request` for `service`; `None` if this policy keeps nothing.
        fn keep(service: S, request: Request<B>) -> Option<Self>;
        /// The service and the copy.
        fn into_parts(self) -> (S, Request<B>);
    }

    /// A request's copy and the service it goes to.
    #[allow(unreachable_pub, missing_debug_implementations)] // sealed: never named outside
    pub struct Kept<S, B> {
        pub(crate) service: S,
        pub(crate) request: Request<B>,
    }

    /// Nothing kept: no value of it exists.
    #[allow(unreachable_pub, missing_debug_implementations)] // sealed: never named outside
    pub enum Nothing {}

    impl<S, B> Keep<S, B> for Kept<S, B> {
        fn keep(service: S, request: Request<B>) -> Option<Self> {
            Some(Self { service, request })
        }
        fn into_parts(self) -> (S, Request<B>) {
            (self.service, self.request)
        }
    }

    impl<S, B> Keep<S, B> for Nothing {
        fn keep(_: S, _: Request<B>) -> Option<Self> {
            None
        }
        fn into_parts(self) -> (S, Request<B>) {
            match self {}
        }
    }

    /// What a policy does with a request before its first send.
    // Sealed: never named outside. Returned and consumed at once; boxing the copy would
    // allocate on every request.
    #[allow(
        unreachable_pub,
        missing_debug_implementations,
        clippy::large_enum_variant
    )]
    pub enum Prepared<B> {
        /// Send it now; the copy to replay, if the policy keeps one.
        Ready(Option<Request<B>>),
        /// Read the body first ([`Prepare::buffer`]), then make both the request and its copy
        /// from the bytes.
        Buffer,
    }

    /// A request split to read its body.
    #[allow(unreachable_pub, missing_debug_implementations)] // sealed: never named outside
    pub struct Buffer<B> {
        pub(crate) head: Parts,
        pub(crate) body: BoxFuture<'static, Result<Bytes, BoxError>>,
        pub(crate) make: fn(Bytes) -> B,
    }

    /// The policy's operations, and where it keeps a copy. The request is only looked at (and
    /// copied) here, never moved, unless its body is to be read.
    #[allow(unreachable_pub)] // sealed: never named outside
    pub trait Prepare<B> {
        /// Where a copy waits for its replay.
        type Kept<S>: Keep<S, B>;

        /// Makes what a replay needs, before the request is sent.
        fn prepare(&self, request: &Request<B>) -> Prepared<B>;

        /// Splits a request [`prepare`](Self::prepare) said to buffer; a policy that never
        /// buffers hands it back.
        // The request comes back as it went in, at once; boxing it would allocate.
        #[allow(clippy::result_large_err)]
        fn buffer(&self, request: Request<B>) -> Result<Buffer<B>, Request<B>> {
            Err(request)
        }
    }
}

use sealed::{Buffer, Kept, Nothing, Prepare, Prepared};

impl<B: Clone> Prepare<B> for CloneBody {
    type Kept<S> = Kept<S, B>;

    #[inline]
    fn prepare(&self, request: &Request<B>) -> Prepared<B> {
        Prepared::Ready(Some(copy(request, request.body().clone())))
    }
}

impl<B> Prepare<B> for NoReplay {
    type Kept<S> = Nothing;

    #[inline]
    fn prepare(&self, _: &Request<B>) -> Prepared<B> {
        Prepared::Ready(None)
    }
}

impl<B> Prepare<B> for BufferBody
where
    B: Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Kept<S> = Kept<S, B>;

    fn prepare(&self, request: &Request<B>) -> Prepared<B> {
        let fits = request
            .body()
            .size_hint()
            .upper()
            .is_some_and(|upper| upper <= self.limit as u64);
        if fits {
            Prepared::Buffer
        } else {
            Prepared::Ready(None)
        }
    }

    fn buffer(&self, request: Request<B>) -> Result<Buffer<B>, Request<B>> {
        let limit = self.limit;
        let (head, body) = request.into_parts();
        Ok(Buffer {
            head,
            body: Box::pin(read_to_bytes(body, limit)),
            make: B::from,
        })
    }
}

/// Reads `body` whole, failing past `limit` bytes (a body may understate its size) or on
/// trailers.
async fn read_to_bytes<B>(body: B, limit: usize) -> Result<Bytes, BoxError>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let collected = Limited::new(body, limit).collect().await?;
    if collected.trailers().is_some() {
        return Err(Box::new(credkit_core::Error::new(
            credkit_core::ErrorKind::Configuration,
            "a request body with trailers cannot be buffered for a replay",
        )));
    }
    Ok(collected.to_bytes())
}

/// A copy of `request`'s head with `body`: what a replay sends.
pub(crate) fn copy<B>(request: &Request<B>, body: B) -> Request<B> {
    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}

#[cfg(test)]
mod tests {
    use http_body_util::{Full, StreamBody};

    use super::*;

    #[test]
    fn buffer_body_keeps_its_limit() {
        assert_eq!(BufferBody::new(1024).limit(), 1024);
    }

    #[test]
    fn clone_body_keeps_a_whole_copy() {
        let request = Request::post("https://api.example/x?y=1")
            .header("content-type", "text/plain")
            .extension(7_u8)
            .body(Full::new(Bytes::from_static(b"hi")))
            .unwrap();
        let Prepared::Ready(replay) = CloneBody.prepare(&request) else {
            panic!("no buffering for a clone body");
        };
        let replay = replay.unwrap();
        assert_eq!(replay.method(), request.method());
        assert_eq!(replay.uri(), request.uri());
        assert_eq!(replay.headers(), request.headers());
        assert_eq!(replay.extensions().get::<u8>(), Some(&7));
    }

    #[test]
    fn buffer_body_leaves_streams_alone() {
        // A stream's size is unknown: it is neither read nor copied.
        let frames: Vec<Result<http_body::Frame<Bytes>, BoxError>> = vec![];
        let stream = StreamBody::new(futures::stream::iter(frames));
        let request = Request::new(Wrapped(stream.boxed()));
        assert!(matches!(
            BufferBody::new(1024).prepare(&request),
            Prepared::Ready(None)
        ));
    }

    #[test]
    fn buffer_body_reads_what_fits() {
        let request = Request::new(Wrapped::from(Bytes::from_static(b"0123456789")));
        assert!(matches!(
            BufferBody::new(10).prepare(&request),
            Prepared::Buffer
        ));
        assert!(BufferBody::new(10).buffer(request).is_ok());
        let request = Request::new(Wrapped::from(Bytes::from_static(b"0123456789")));
        assert!(matches!(
            BufferBody::new(9).prepare(&request),
            Prepared::Ready(None)
        ));
        assert!(NoReplay.buffer(request).is_err());
    }

    /// A boxed body that can be made from `Bytes`, as tonic's and reqwest's can.
    struct Wrapped(http_body_util::combinators::BoxBody<Bytes, BoxError>);

    impl From<Bytes> for Wrapped {
        fn from(bytes: Bytes) -> Self {
            Self(Full::new(bytes).map_err(|never| match never {}).boxed())
        }
    }

    impl Body for Wrapped {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
            std::pin::Pin::new(&mut self.0).poll_frame(cx)
        }

        fn size_hint(&self) -> http_body::SizeHint {
            self.0.size_hint()
        }
    }
}
