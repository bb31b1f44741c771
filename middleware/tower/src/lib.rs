//! A tower layer for credkit: OAuth 2.0 credentials on every request of any tower HTTP
//! service (hyper-util's client, a tonic channel, an SDK's stack), with one refresh and one
//! replay per burst of 401s.
//!
//! [`AuthLayer`] wraps any `S: Service<http::Request<B>, Response = http::Response<_>>` in an
//! [`Auth<S>`]. Each request gets the headers of a [`Credentials`](credkit_core::Credentials):
//! from the cache with a fresh token (no lock, no allocation, no await), waiting only when the
//! token is invalid. When the server answers 401, the token that request carried is dropped
//! (the first of many such requests drops it, the rest find it gone, so a burst costs one
//! refresh) and the request is replayed once with the new token, if its body can be sent
//! twice. This crate is not an HTTP client, and does not retry anything but that one replay.
//!
//! The rules are [`credkit_core::authorize`]'s, decided once for every adapter credkit has;
//! this crate translates tower's types for the [`Authorizer`](credkit_core::authorize::Authorizer)
//! and keeps the request's state between polls. A token the API refuses right after the
//! refresh that replaced a rejected one is kept and its request not replayed, so an API that
//! refuses every token (the wrong audience, say) costs one refresh per minimum retry interval,
//! not one per request.
//!
//! # Quick start
//!
//! ```no_run
//! use credkit_core::{AccessToken, Credentials, StaticSource};
//! use credkit_tower::AuthLayer;
//! use http_body_util::Full;
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
//! # let url = "https://api.example/v1/files";
//! let client = Client::builder(TokioExecutor::new()).build_http();
//! let api = ServiceBuilder::new().layer(AuthLayer::new(credentials)).service(client);
//! let response = api.oneshot(http::Request::get(url).body(Full::<bytes::Bytes>::default())?).await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # The rules
//!
//! - **Plain `http://` off loopback gets no token**: the request is sent without the
//!   credentials' headers, since anyone on the path could read and reuse the token.
//!   `https://`, `http://` to `127.0.0.0/8`, `::1` or `localhost`, and URIs without a scheme
//!   (the service below picks the origin, as a tonic channel does) get it.
//!   [`AuthLayer::dangerous_allow_http`] lifts the rule.
//! - **A caller's own `Authorization` header is kept**, and that request gets none of the
//!   credentials' headers; [`AuthLayer::with_overwrite_authorization`] replaces it instead.
//! - **Replay after a 401** depends on the body: [`CloneBody`] (the default) clones bodies
//!   that are `Clone`; [`BufferBody`] ([`AuthLayer::with_buffered_replay`]) reads bodies that
//!   can be made from `Bytes` into memory, up to a size limit; [`NoReplay`]
//!   ([`AuthLayer::without_replay`]) never replays. A request that cannot be replayed, or whose
//!   replay is rejected too, returns its 401 as it came.
//! - **Errors** are [`BoxError`]s: the inner service's error boxed, or a
//!   [`credkit_core::Error`] when no token could be had, found with `downcast_ref`.
//!
//! # With other layers
//!
//! Put `AuthLayer` inside (after, in [`ServiceBuilder`](https://docs.rs/tower) order) a retry
//! layer, so that every retry is authorized afresh and sees a new token; a timeout outside it
//! bounds the wait for a token as well as the request:
//!
//! ```
//! # use std::time::Duration;
//! # use credkit_core::{AccessToken, Credentials, StaticSource};
//! # use credkit_tower::AuthLayer;
//! # use http_body_util::Full;
//! # use bytes::Bytes;
//! # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
//! # let client = tower::service_fn(|_: http::Request<Full<Bytes>>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
//! # });
//! let api = tower::ServiceBuilder::new()
//!     .timeout(Duration::from_secs(30)) // bounds everything below
//!     .layer(AuthLayer::new(credentials))
//!     .service(client);
//! # let _ = api;
//! ```
//!
//! # With tonic
//!
//! A tonic `Channel` is a `Service<http::Request<tonic::body::Body>>`, and generated clients
//! take any such service. tonic's body is not `Clone`, so pick buffered replay (gRPC requests
//! are usually small and of known size; streaming calls are sent unread and not replayed) or
//! none. This crate does not depend on tonic; with it, the code is:
//!
//! ```text
//! let channel = tonic::transport::Channel::from_static("https://api.example").connect().await?;
//! let channel = tower::ServiceBuilder::new()
//!     .layer(credkit_tower::AuthLayer::new(credentials).with_buffered_replay(64 * 1024))
//!     .service(channel);
//! let mut client = MyServiceClient::new(channel);
//! ```
//!
//! The same shape, compiled here with a stand-in for the channel and its body:
//!
//! ```
//! # use std::convert::Infallible;
//! # use std::pin::Pin;
//! # use std::task::{Context, Poll};
//! # use bytes::Bytes;
//! # use credkit_core::{AccessToken, Credentials, StaticSource};
//! # use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
//! # use tower::ServiceExt;
//! /// Like `tonic::body::Body`: boxed, not `Clone`, made from `Bytes`.
//! struct GrpcBody(UnsyncBoxBody<Bytes, Infallible>);
//! # impl From<Bytes> for GrpcBody {
//! #     fn from(bytes: Bytes) -> Self { Self(Full::new(bytes).boxed_unsync()) }
//! # }
//! # impl http_body::Body for GrpcBody {
//! #     type Data = Bytes;
//! #     type Error = Infallible;
//! #     fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>)
//! #         -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
//! #         Pin::new(&mut self.0).poll_frame(cx)
//! #     }
//! #     fn size_hint(&self) -> http_body::SizeHint { self.0.size_hint() }
//! # }
//! # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
//! # let channel = tower::service_fn(|_: http::Request<GrpcBody>| async {
//! #     Ok::<_, Infallible>(http::Response::new(GrpcBody::from(Bytes::new())))
//! # });
//! let channel = tower::ServiceBuilder::new()
//!     .layer(credkit_tower::AuthLayer::new(credentials).with_buffered_replay(64 * 1024))
//!     .service(channel);
//! # futures::executor::block_on(async {
//! let request = http::Request::post("/pkg.Files/List").body(GrpcBody::from(Bytes::new()))?;
//! let response = channel.oneshot(request).await?;
//! # let _ = response;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! # Sibling crates
//!
//! `credkit-core` (the [`Credentials`](credkit_core::Credentials) cache, and
//! [`AuthorizedTransport`](credkit_core::AuthorizedTransport) for any other stack), the
//! providers (`credkit-refresh-token`, `credkit-refresh-handler`, `credkit-gcloud`),
//! `credkit-tokio` (`TokioSpawner`, to run refreshes ahead in the background on a tokio
//! runtime), `credkit-reqwest-middleware` (the same rules for a reqwest-middleware client),
//! `credkit-reqwest` (the transport token requests go through), and `credkit-testing`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod future;
mod layer;
mod replay;
mod service;
mod settings;

// The public interface is:
pub use future::ResponseFuture;
pub use layer::AuthLayer;
pub use replay::{BufferBody, CloneBody, NoReplay, ReplayPolicy};
pub use service::Auth;

/// Re-exported so users of this layer name the same core.
pub use credkit_core as core;

/// The error of an [`Auth`] service: the inner service's error, or a [`credkit_core::Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<AuthLayer>();
        assert_send_sync::<AuthLayer<BufferBody>>();
        assert_send_sync::<Auth<()>>();
    }
}
