//! Putting credentials on requests: the rules every adapter shares, decided once, with no I/O.
//!
//! An [`Authorizer`] answers the two questions a wrapper around an HTTP stack has. Before a
//! request is sent, [`authorize`](Authorizer::authorize) says whether it gets the credentials'
//! headers and writes them: [`Authorization::Skip`] (send it as it is), [`Ready`](Authorization::Ready) (written;
//! drive the [`RefreshAhead`](crate::RefreshAhead) beside the request if there is one), or
//! [`Wait`](Authorization::Wait) (no usable token: await the one refresh, then write). After the response,
//! [`answered`](Authorizer::answered) takes its status and what was [`Sent`], drops a rejected
//! token, and says whether to [`Replay`](Answer::Replay) the request once.
//!
//! credkit's adapters are thin layers over it, each translating its stack's types and nothing
//! more: [`AuthorizedTransport`] for any [`Transport`](crate::Transport),
//! `credkit-tower`'s `AuthLayer` for tower services (hyper-util, tonic), and `credkit-reqwest`'s
//! `AuthMiddleware` for reqwest-middleware. A wrapper for another stack follows the example
//! below.
//!
//! # The rules
//!
//! - **Which requests** ([`AttachPolicy`]): a caller's own `Authorization` header is kept and
//!   that request gets none of the credentials' headers; a plain `http://` request to a host off
//!   loopback is sent without them; a URI without a scheme gets them.
//! - **The headers** are written as [`Credentials::apply`](crate::Credentials::apply) writes them. A fresh token costs the
//!   cached values; a stale one is written at once, with its refresh ahead started on the
//!   spawner or handed to the caller to drive; only an invalid one makes the request wait.
//! - **A 401** drops the token the request carried, so a burst of requests rejected with one
//!   token causes one refresh, and the request is replayed once with the new token. The
//!   replay's response is the answer, whatever it is.
//! - **A token the API refuses right after the refresh that replaced a rejected one** is kept,
//!   not dropped, and the request is not replayed: an API that refuses every token (the wrong
//!   audience or scopes) costs at most one refresh per minimum retry interval, not one per
//!   request. It is reported once per token (a warning, and
//!   [`RefreshEvent::FreshTokenRejected`](crate::RefreshEvent::FreshTokenRejected)).
//!
//! # Examples
//!
//! A wrapper for a stack of one's own, here a plain function that sends `http` requests:
//!
//! ```
//! use bytes::Bytes;
//! use credkit_core::authorize::{Answer, Authorizer};
//! use credkit_core::{AccessToken, Credentials, RefreshAhead, StaticSource};
//!
//! async fn send(request: http::Request<Bytes>) -> http::Response<Bytes> {
//!     // ... the stack's own send ...
//! #   let ok = request.headers().get("authorization").is_some_and(|v| v == "Bearer ya29.t");
//! #   let mut response = http::Response::new(Bytes::new());
//! #   if !ok { *response.status_mut() = http::StatusCode::UNAUTHORIZED; }
//! #   response
//! }
//!
//! async fn authorized(
//!     authorizer: &Authorizer,
//!     mut request: http::Request<Bytes>,
//! ) -> credkit_core::Result<http::Response<Bytes>> {
//!     let copy = request.clone(); // a `Bytes` body can be sent twice
//!     // Code that polls by hand matches on `Authorization`'s three arms instead.
//!     let authorization = authorizer.authorize(&mut request);
//!     let Some(ready) = authorization.ready(request.headers_mut()).await? else {
//!         return Ok(send(request).await); // not for these credentials
//!     };
//!     let response = RefreshAhead::beside(ready.ahead, send(request)).await;
//!     if authorizer.answered(response.status(), ready.sent) == Answer::Return {
//!         return Ok(response);
//!     }
//!     let mut replay = copy;
//!     let authorization = authorizer.authorize_replay(replay.headers_mut());
//!     let Some(ready) = authorization.ready(replay.headers_mut()).await? else {
//!         return Ok(send(replay).await); // never: a replay is not skipped
//!     };
//!     let response = RefreshAhead::beside(ready.ahead, send(replay)).await;
//!     let _last = authorizer.answered(response.status(), ready.sent); // never a second replay
//!     Ok(response)
//! }
//!
//! # futures::executor::block_on(async {
//! let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
//! let authorizer = Authorizer::new(credentials);
//! let request = http::Request::get("https://api.example/v1/files").body(Bytes::new())?;
//! assert_eq!(authorized(&authorizer, request).await?.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod authorizer;
mod policy;
mod step;
mod transport;

// The public interface is:
pub use authorizer::Authorizer;
pub use policy::AttachPolicy;
pub use step::{Answer, Authorization, Ready, Sent, TokenWait, UsableToken};
pub use transport::AuthorizedTransport;

#[cfg(test)]
mod tests;
