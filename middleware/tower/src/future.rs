//! `ResponseFuture`: one request through [`Auth`](crate::Auth), and its replay after a 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use credkit_core::RefreshAhead;
use credkit_core::authorize::{Answer, Authorization, Authorizer, Sent, TokenWait};
use futures::future::BoxFuture;
use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::BoxError;
use crate::replay;
use crate::replay::sealed::{Buffer, Keep, Kept, Prepare, Prepared};

pin_project! {
    /// The response future of [`Auth`](crate::Auth).
    ///
    /// With a fresh token it is the inner service's future and a few fields beside it (and the
    /// copy kept for a replay): no allocation. Waiting for a token, reading a body for
    /// [`BufferBody`](crate::BufferBody), sending a replay and driving a refresh ahead each
    /// keep their state in one box while they last, so the future a caller moves around stays
    /// small.
    ///
    /// A refresh ahead it drives (a stale token, credentials without a spawner) is dropped when
    /// the response comes first, unless its grant is out: then the response waits for the
    /// grant's answer (one round trip to the token endpoint), which may rotate the refresh
    /// token, so that no refresh is left half done holding the storage's lease.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, S, B, K>
    where
        F: Future,
    {
        #[pin]
        state: State<F, S, B, K>,
        authorizer: Authorizer,
    }
}

/// A request waiting for its body to be read: its head, and how to make a body of the bytes.
struct Buffered<S, B> {
    head: Parts,
    make: fn(Bytes) -> B,
    service: S,
}

/// A request waiting for a usable token, with its copy for a replay if one was kept.
struct Pending<S, B> {
    service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B, K>
    where
        F: Future,
    {
        // Not authorized: the inner future alone.
        Direct { #[pin] future: F },
        // Reading the body, for a replay.
        Buffering {
            body: BoxFuture<'static, Result<Bytes, BoxError>>,
            buffered: Option<Box<Buffered<S, B>>>,
        },
        // Waiting for a usable token, before the first send or the replay.
        Authorizing { wait: TokenWait, pending: Option<Box<Pending<S, B>>> },
        // The replay, authorized, waits for its service to be ready again.
        Readying { replay: Option<Box<Kept<S, B>>>, sent: Sent, ahead: Option<RefreshAhead> },
        // Sent; `sent` names the token it carries, for a 401.
        Calling {
            #[pin]
            future: F,
            kept: Option<K>,
            sent: Sent,
            ahead: Option<RefreshAhead>,
        },
        // Answered while the refresh ahead had its grant out: that refresh finishes first.
        Finishing {
            refresh: RefreshAhead,
            output: Option<F::Output>,
            kept: Option<K>,
            sent: Sent,
        },
    }
}

impl<F: Future, S, B, K> ResponseFuture<F, S, B, K>
where
    S: Service<Request<B>, Future = F>,
    K: Keep<S, B>,
{
    /// The future of `request` through `service`, prepared for a replay by `replay`.
    #[inline]
    pub(crate) fn new<R>(
        authorizer: Authorizer,
        service: S,
        request: Request<B>,
        replay: &R,
    ) -> Self
    where
        R: Prepare<B, Kept<S> = K>,
    {
        let state = match replay.prepare(&request) {
            Prepared::Ready(copy) => send(&authorizer, service, request, copy),
            Prepared::Buffer => match replay.buffer(request) {
                Ok(Buffer { head, body, make }) => State::Buffering {
                    body,
                    buffered: Some(Box::new(Buffered {
                        head,
                        make,
                        service,
                    })),
                },
                Err(request) => send(&authorizer, service, request, None),
            },
        };
        Self { state, authorizer }
    }
}

/// The first send, as the authorizer says: as it is, at once with the headers written, or
/// after waiting for a usable token.
#[inline]
fn send<F: Future, S, B, K>(
    authorizer: &Authorizer,
    mut service: S,
    mut request: Request<B>,
    replay: Option<Request<B>>,
) -> State<F, S, B, K>
where
    S: Service<Request<B>, Future = F>,
    K: Keep<S, B>,
{
    match authorizer.authorize(&mut request) {
        Authorization::Skip => State::Direct {
            future: service.call(request),
        },
        Authorization::Ready(ready) => call(service, request, replay, ready.sent, ready.ahead),
        Authorization::Wait(wait) => State::Authorizing {
            wait,
            pending: Some(Box::new(Pending {
                service,
                request,
                replay,
            })),
        },
    }
}

/// Sends an authorized request, keeping what a 401 needs: the service and copy for a replay,
/// if there is one.
#[inline]
fn call<F: Future, S, B, K>(
    mut service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
    sent: Sent,
    ahead: Option<RefreshAhead>,
) -> State<F, S, B, K>
where
    S: Service<Request<B>, Future = F>,
    K: Keep<S, B>,
{
    let future = service.call(request);
    State::Calling {
        future,
        kept: replay.and_then(|request| K::keep(service, request)),
        sent,
        ahead,
    }
}

/// A request that waited for its token, now written: sent, or (the replay) readied first.
fn waited<F: Future, S, B, K>(pending: Pending<S, B>, sent: Sent) -> State<F, S, B, K>
where
    S: Service<Request<B>, Future = F>,
    K: Keep<S, B>,
{
    let Pending {
        service,
        request,
        replay,
    } = pending;
    if sent.replayed() {
        State::Readying {
            replay: Some(Box::new(Kept { service, request })),
            sent,
            ahead: None,
        }
    } else {
        call(service, request, replay, sent, None)
    }
}

/// After a response with `status` to a request that carried `sent`: the replay's state if
/// the authorizer says to replay and a copy was kept (the response is then dropped), or `None`
/// to return the response. Nothing large is built on the common path.
fn replay<F, S, B, K>(
    authorizer: &Authorizer,
    status: http::StatusCode,
    sent: Sent,
    kept: &mut Option<K>,
) -> Option<State<F, S, B, K>>
where
    F: Future,
    K: Keep<S, B>,
{
    if authorizer.answered(status, sent) == Answer::Return {
        return None;
    }
    let (service, mut request) = kept.take()?.into_parts();
    match authorizer.authorize_replay(request.headers_mut()) {
        Authorization::Ready(ready) => Some(State::Readying {
            replay: Some(Box::new(Kept { service, request })),
            sent: ready.sent,
            ahead: ready.ahead,
        }),
        Authorization::Wait(wait) => Some(State::Authorizing {
            wait,
            pending: Some(Box::new(Pending {
                service,
                request,
                replay: None,
            })),
        }),
        // A replay is never skipped; were it, the 401 stands.
        Authorization::Skip => None,
    }
}

fn broken() -> BoxError {
    Box::new(credkit_core::Error::internal(
        "auth future polled after completion",
    ))
}

impl<F, S, B, K, ResBody, E> Future for ResponseFuture<F, S, B, K>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    S: Service<Request<B>, Future = F, Response = Response<ResBody>, Error = E>,
    E: Into<BoxError>,
    K: Keep<S, B>,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            let authorizer = &*this.authorizer;
            let mut state = this.state;
            let next = match state.as_mut().project() {
                StateProj::Direct { future } => return future.poll(cx).map_err(Into::into),
                StateProj::Buffering { body, buffered } => {
                    let bytes = ready!(body.as_mut().poll(cx))?;
                    let Some(buffered) = buffered.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let Buffered {
                        head,
                        make,
                        service,
                    } = *buffered;
                    let request = Request::from_parts(head, make(bytes.clone()));
                    let replay = replay::copy(&request, make(bytes));
                    send(authorizer, service, request, Some(replay))
                }
                StateProj::Authorizing { wait, pending } => {
                    let token = ready!(Pin::new(wait).poll(cx)).map_err(BoxError::from)?;
                    let Some(mut pending) = pending.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let sent = token.write(pending.request.headers_mut());
                    waited(*pending, sent)
                }
                StateProj::Readying {
                    replay,
                    sent,
                    ahead,
                } => {
                    let Some(kept) = replay.as_mut() else {
                        return Poll::Ready(Err(broken()));
                    };
                    ready!(kept.service.poll_ready(cx)).map_err(Into::into)?;
                    let Some(kept) = replay.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let Kept {
                        mut service,
                        request,
                    } = *kept;
                    State::Calling {
                        future: service.call(request),
                        kept: None,
                        sent: *sent,
                        ahead: ahead.take(),
                    }
                }
                StateProj::Calling {
                    future,
                    kept,
                    sent,
                    ahead,
                } => {
                    if let Some(refresh) = ahead
                        && Pin::new(refresh).poll(cx).is_ready()
                    {
                        *ahead = None;
                    }
                    let output = ready!(future.poll(cx));
                    // A refresh ahead with its grant out finishes first (its answer may
                    // rotate the refresh token); any other is dropped, which loses nothing.
                    if let Some(refresh) = ahead.take().filter(RefreshAhead::must_finish) {
                        State::Finishing {
                            refresh,
                            output: Some(output),
                            kept: kept.take(),
                            sent: *sent,
                        }
                    } else {
                        let response = output.map_err(Into::into)?;
                        match replay(authorizer, response.status(), *sent, kept) {
                            Some(next) => next,
                            None => return Poll::Ready(Ok(response)),
                        }
                    }
                }
                StateProj::Finishing {
                    refresh,
                    output,
                    kept,
                    sent,
                } => {
                    ready!(Pin::new(refresh).poll(cx));
                    let Some(output) = output.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let response = output.map_err(Into::into)?;
                    match replay(authorizer, response.status(), *sent, kept) {
                        Some(next) => next,
                        None => return Poll::Ready(Ok(response)),
                    }
                }
            };
            state.set(next);
        }
    }
}

impl<F: Future, S, B, K> fmt::Debug for ResponseFuture<F, S, B, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Direct { .. } => "direct",
            State::Buffering { .. } => "buffering",
            State::Authorizing { .. } => "authorizing",
            State::Readying { .. } => "readying",
            State::Calling { .. } => "calling",
            State::Finishing { .. } => "finishing",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
